//! `logflight hash-password` and `logflight new-token`: the secrets of the
//! config file's `[[users]]` and `[[tokens]]`.

use std::io::IsTerminal;

use crate::auth::secrets::{hash_password, hex, new_token, token_digest};
use crate::error::{Result, ServerError};

/// The password is read from standard input (one line), never from the
/// command line, where `ps` and shell history would keep it.
pub fn hash_password_command() -> Result<()> {
    if std::io::stdin().is_terminal() {
        eprint!("password (echoed): ");
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| ServerError::Config(format!("cannot read the password: {e}")))?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(ServerError::Config("empty password".into()));
    }
    println!("{}", hash_password(password).map_err(ServerError::Config)?);
    Ok(())
}

/// The token for the client, and the config entry that stores only its digest.
pub fn new_token_command() -> Result<()> {
    let token = new_token().map_err(ServerError::Config)?;
    println!("token (give it to the client; it is not stored): {token}");
    println!();
    println!("[[tokens]]");
    println!("name = \"CHANGE-ME\"");
    println!("token_sha256 = \"{}\"", hex(&token_digest(&token)));
    println!("roles = []");
    Ok(())
}
