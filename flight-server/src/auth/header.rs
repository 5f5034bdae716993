//! The `authorization` header's two forms: `Basic base64(user:password)`
//! (Handshake, or any RPC from clients that never Handshake) and
//! `Bearer <token>`.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use super::AuthError;

/// Standard base64 that takes input with or without `=` padding (ADBC's
/// Go driver sends it unpadded).
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The token of `Bearer <token>` (scheme case-insensitive).
pub fn bearer(value: &str) -> Result<&str, AuthError> {
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(AuthError::Malformed("expected `Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Malformed("expected `Bearer <token>`"));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Malformed("empty bearer token"));
    }
    Ok(token)
}

/// True when `value` is of the Basic scheme.
pub fn is_basic(value: &str) -> bool {
    value
        .trim_start()
        .get(..6)
        .is_some_and(|s| s.eq_ignore_ascii_case("basic "))
}

/// (username, password) of `Basic base64(username:password)`, padded or not.
pub fn parse_basic(value: &str) -> Result<(String, String), AuthError> {
    let (scheme, encoded) = value
        .trim()
        .split_once(' ')
        .ok_or(AuthError::Malformed("expected `Basic <base64>`"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AuthError::Malformed("expected `Basic <base64>`"));
    }
    let decoded = LENIENT_BASE64
        .decode(encoded.trim())
        .map_err(|_| AuthError::Malformed("Basic credentials are not base64"))?;
    let text = String::from_utf8(decoded)
        .map_err(|_| AuthError::Malformed("Basic credentials are not UTF-8"))?;
    let (user, password) = text.split_once(':').ok_or(AuthError::Malformed(
        "Basic credentials lack `username:password`",
    ))?;
    Ok((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_headers_padded_or_not() {
        let raw = "alice:s3cret: with colons!";
        let padded = base64::engine::general_purpose::STANDARD.encode(raw);
        let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw);
        assert_ne!(padded, unpadded, "the case must exercise padding");
        for value in [format!("Basic {padded}"), format!("basic {unpadded}")] {
            assert!(is_basic(&value));
            assert_eq!(
                parse_basic(&value).unwrap(),
                ("alice".to_string(), "s3cret: with colons!".to_string())
            );
        }
        let bad = [
            (
                "Bearer x",
                AuthError::Malformed("expected `Basic <base64>`"),
            ),
            ("Basic", AuthError::Malformed("expected `Basic <base64>`")),
            (
                "Basic !!!",
                AuthError::Malformed("Basic credentials are not base64"),
            ),
            (
                "Basic bm9jb2xvbg",
                AuthError::Malformed("Basic credentials lack `username:password`"),
            ),
            (
                "Basic //79",
                AuthError::Malformed("Basic credentials are not UTF-8"),
            ),
        ];
        for (value, want) in bad {
            assert_eq!(parse_basic(value).unwrap_err(), want, "{value}");
        }
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer("Bearer abc"), Ok("abc"));
        assert_eq!(bearer("  bearer   abc  "), Ok("abc"));
        assert!(!is_basic("Bearer abc"));
        for value in ["Bearer ", "Basic abc", "abc", ""] {
            assert!(
                matches!(bearer(value), Err(AuthError::Malformed(_))),
                "{value}"
            );
        }
    }
}
