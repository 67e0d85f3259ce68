//! Comparing secrets (tokens, digest responses, nonce tags) without leaking, through the
//! time taken, how many leading bytes matched.

/// Whether `a` and `b` are equal, looking at every byte whatever differs first.
pub fn eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn equal_only_for_the_same_bytes_and_length() {
        assert!(super::eq(b"secret", b"secret"));
        assert!(!super::eq(b"secret", b"secreT"));
        assert!(!super::eq(b"secret", b"secret!"));
        assert!(super::eq(b"", b""));
    }
}
