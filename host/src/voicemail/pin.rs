//! Voicemail PINs: kept as a salted SHA-256 (`sha256$<salt hex>$<digest hex>`), checked
//! in constant time.
//!
//! Why not Argon2 like portal passwords: a PIN has at most 10 digits, so no hash makes a
//! stolen database safe for long, while the check runs on the call path each time a caller
//! types a PIN. The salt keeps equal PINs from showing as equal hashes.

use sha2::{Digest, Sha256};

use crate::constant_time;

/// Fewest and most digits of a PIN.
pub const PIN_DIGITS: std::ops::RangeInclusive<usize> = 4..=10;

const SCHEME: &str = "sha256";

/// Whether `pin` has the form of a PIN: 4-10 digits.
pub fn is_valid(pin: &str) -> bool {
    PIN_DIGITS.contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())
}

/// The stored form of `pin`, with a fresh random salt.
pub fn hash(pin: &str) -> String {
    let salt: [u8; 16] = rand::random();
    format!("{SCHEME}${}${}", hex::encode(salt), hex::encode(digest(&salt, pin)))
}

/// Whether `pin` is the PIN `stored` was made from. A malformed `stored` matches nothing.
pub fn verify(stored: &str, pin: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some(SCHEME), Some(salt), Some(expected), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(salt), Ok(expected)) = (hex::decode(salt), hex::decode(expected)) else {
        return false;
    };
    constant_time::eq(&digest(&salt, pin), &expected)
}

fn digest(salt: &[u8], pin: &str) -> [u8; 32] {
    Sha256::new().chain_update(salt).chain_update(pin.as_bytes()).finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_right_pin_verifies_and_a_wrong_one_does_not() {
        let stored = hash("1234");
        assert!(verify(&stored, "1234"));
        assert!(!verify(&stored, "1235"));
        assert!(!verify(&stored, "12345"));
        assert!(!verify(&stored, ""));
    }

    #[test]
    fn equal_pins_hash_differently() {
        assert_ne!(hash("0000"), hash("0000"), "the salt must differ");
    }

    #[test]
    fn a_malformed_stored_hash_matches_nothing() {
        for stored in ["", "1234", "sha256$zz$00", "md5$00$00", "sha256$00$00$00"] {
            assert!(!verify(stored, "1234"), "{stored:?}");
        }
    }

    #[test]
    fn pins_are_four_to_ten_digits() {
        assert!(is_valid("0000"));
        assert!(is_valid("0123456789"));
        assert!(!is_valid("123"));
        assert!(!is_valid("01234567890"));
        assert!(!is_valid("12a4"));
        assert!(!is_valid("+1234"));
    }
}
