//! Time-to-live: whole seconds from 1 to [`MAX_TTL_SECS`].

use crate::{ErrorCode, ProtocolError, MAX_TTL_SECS};

/// Parses the `ttl` query parameter strictly: ASCII digits only, no sign, no
/// fraction, no exponent, in `1..=MAX_TTL_SECS`.
pub fn parse_ttl(raw: &str) -> Result<u64, ProtocolError> {
    let invalid = || {
        ProtocolError::new(
            ErrorCode::InvalidTtl,
            format!("invalid ttl {raw:?}: expected whole seconds from 1 to {MAX_TTL_SECS}"),
        )
    };
    if raw.is_empty() || raw.len() > 20 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let secs: u64 = raw.parse().map_err(|_| invalid())?;
    validate_ttl(secs).map_err(|_| invalid())?;
    Ok(secs)
}

/// Checks a TTL that is already a number.
pub fn validate_ttl(secs: u64) -> Result<(), ProtocolError> {
    if (1..=MAX_TTL_SECS).contains(&secs) {
        Ok(())
    } else {
        Err(ProtocolError::new(
            ErrorCode::InvalidTtl,
            format!("invalid ttl {secs}: expected whole seconds from 1 to {MAX_TTL_SECS}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_whole_seconds_in_range() {
        assert_eq!(parse_ttl("1").unwrap(), 1);
        assert_eq!(parse_ttl("60").unwrap(), 60);
        assert_eq!(parse_ttl(&MAX_TTL_SECS.to_string()).unwrap(), MAX_TTL_SECS);
    }

    #[test]
    fn refuses_everything_else() {
        let too_big = (MAX_TTL_SECS + 1).to_string();
        for bad in
            ["", "0", "-1", "+5", "1.5", "1e3", " 5", "abc", "99999999999999999999999", &too_big]
        {
            assert_eq!(parse_ttl(bad).unwrap_err().code, ErrorCode::InvalidTtl, "{bad:?}");
        }
    }
}
