//! The process allocator of both binaries (`logflight` and the benchmark
//! baseline `logflight-sdk-baseline`), so their CPU figures compare the work
//! done, not the allocators.

/// Result batches are megabyte-sized buffers allocated and freed at a high
/// rate; glibc's allocator serves them with fresh mmaps (page faults and
/// zeroing on every batch), mimalloc reuses them. Arrow C++ (the transfer
/// benchmark's baseline) likewise ships its own allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (v2 and v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc gives freed pages back to the OS after 10 ms. A scan frees and
/// allocates megabyte response and batch buffers continuously, so they kept
/// coming back as fresh pages the kernel had to zero (a tenth of the CPU of a
/// scan, in `perf`). Keeping them a second costs a few MB.
pub fn tune() {
    // SAFETY: sets a plain integer option; mimalloc allows it at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1000) };
}
