//! Digest behaviour pinned by the RFCs' own examples.

use super::*;

/// RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256.
fn rfc7616(algorithm: &str, response: &str) -> String {
    format!(
        "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", \
         algorithm={algorithm}, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
         cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, response=\"{response}\", \
         opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
    )
}

#[test]
fn rfc7616_md5_example_verifies() {
    let credentials = parse_authorization(&rfc7616("MD5", "8ca523f5e9506fed4657c9700eebdbec")).unwrap();
    assert_eq!(credentials.algorithm, Algorithm::Md5);
    assert!(verify(&credentials, "Circle of Life", "GET"));
    assert!(!verify(&credentials, "Circle of life", "GET"));
    assert!(!verify(&credentials, "Circle of Life", "POST"));
}

#[test]
fn rfc7616_sha256_example_verifies() {
    let value = rfc7616("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
    let credentials = parse_authorization(&value).unwrap();
    assert_eq!(credentials.algorithm, Algorithm::Sha256);
    assert_eq!(credentials.qop_auth, Some(("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ".into(), 1)));
    assert!(verify(&credentials, "Circle of Life", "GET"));
}

#[test]
fn rfc2069_example_without_qop_verifies() {
    // RFC 2069 §2.4 (no qop), as older SIP phones send.
    let value = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
                 uri=\"/dir/index.html\", response=\"1949323746fe6a43ef61f9606e7febea\"";
    let credentials = parse_authorization(value).unwrap();
    assert_eq!(credentials.qop_auth, None);
    assert!(verify(&credentials, "CircleOfLife", "GET"));
}

#[test]
fn rfc2617_example_with_qop_verifies() {
    let value = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
                 uri=\"/dir/index.html\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", \
                 response=\"6629fae49393a05397450978507c4ef1\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
    assert!(verify(&parse_authorization(value).unwrap(), "Circle Of Life", "GET"));
}

#[test]
fn nonce_count_is_hexadecimal() {
    let value = rfc7616("MD5", "x").replace("nc=00000001", "nc=0000000a");
    assert_eq!(parse_authorization(&value).unwrap().qop_auth.unwrap().1, 10);
    let bad = rfc7616("MD5", "x").replace("nc=00000001", "nc=1");
    assert_eq!(parse_authorization(&bad).unwrap_err(), DigestError::BadNonceCount("1".into()));
}

#[test]
fn malformed_headers_say_what_is_wrong() {
    assert_eq!(parse_authorization("Basic dXNlcjpwYXNz").unwrap_err(), DigestError::NotDigest);
    assert_eq!(
        parse_authorization("Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\"").unwrap_err(),
        DigestError::Missing("response")
    );
    assert!(matches!(parse_authorization("Digest username=\"a"), Err(DigestError::Malformed(_))));
    assert!(matches!(
        parse_authorization(&rfc7616("SHA-512-256", "x")),
        Err(DigestError::UnsupportedAlgorithm(_))
    ));
    assert!(matches!(
        parse_authorization(&rfc7616("MD5", "x").replace("qop=auth", "qop=auth-int")),
        Err(DigestError::UnsupportedQop(_))
    ));
}

#[test]
fn quoted_values_may_hold_commas_and_escapes() {
    let value = "Digest username=\"a\\\"b,c\", realm=\"r\", nonce=\"n\", uri=\"sip:x@y\", response=\"0\"";
    assert_eq!(parse_authorization(value).unwrap().username, "a\"b,c");
}

#[test]
fn nonces_are_fresh_then_stale_and_bound_to_realm_and_secret() {
    let nonces = Nonces::new([7; 32], NONCE_LIFETIME);
    let issued_at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let nonce = nonces.issue("acme.centralita.local", issued_at);
    assert_eq!(
        nonces.check(&nonce, "acme.centralita.local", issued_at + Duration::from_secs(60)),
        NonceCheck::Fresh
    );
    assert_eq!(
        nonces.check(&nonce, "acme.centralita.local", issued_at + Duration::from_secs(301)),
        NonceCheck::Stale
    );
    assert_eq!(nonces.check(&nonce, "other.centralita.local", issued_at), NonceCheck::Invalid);
    assert_eq!(
        Nonces::new([8; 32], NONCE_LIFETIME).check(&nonce, "acme.centralita.local", issued_at),
        NonceCheck::Invalid
    );
    assert_eq!(nonces.check("not-a-nonce!", "acme.centralita.local", issued_at), NonceCheck::Invalid);
    assert_ne!(
        nonce,
        nonces.issue("acme.centralita.local", issued_at),
        "two challenges in one second differ"
    );
}

#[test]
fn a_challenge_names_realm_nonce_algorithm_and_qop() {
    let header = challenge("acme.centralita.local", "abc", Algorithm::Sha256, true);
    assert_eq!(
        header,
        "Digest realm=\"acme.centralita.local\", nonce=\"abc\", algorithm=SHA-256, qop=\"auth\", stale=true"
    );
}

#[test]
fn our_answer_to_a_challenge_verifies_on_the_server_side() {
    for algorithm in [Algorithm::Md5, Algorithm::Sha256] {
        let challenge = challenge("provider.example", "abc123", algorithm, false);
        let header =
            answer_challenge(&challenge, "acme", "s3cret", "REGISTER", "sip:provider.example", "c0ffee")
                .unwrap();
        let credentials = parse_authorization(&header).unwrap();
        assert_eq!(credentials.algorithm, algorithm);
        assert_eq!(credentials.qop_auth, Some(("c0ffee".to_string(), 1)));
        assert!(verify(&credentials, "s3cret", "REGISTER"), "{header}");
        assert!(!verify(&credentials, "wrong", "REGISTER"));
    }
}

#[test]
fn a_challenge_without_qop_is_answered_the_rfc_2069_way_and_opaque_is_echoed() {
    let header = answer_challenge(
        r#"Digest realm="p", nonce="n", opaque="o\"x""#,
        "u",
        "pw",
        "INVITE",
        "sip:1@p",
        "cn",
    )
    .unwrap();
    let credentials = parse_authorization(&header).unwrap();
    assert_eq!(credentials.qop_auth, None);
    assert_eq!(credentials.opaque.as_deref(), Some("o\"x"));
    assert!(verify(&credentials, "pw", "INVITE"));
    assert!(answer_challenge("Basic realm=\"p\"", "u", "pw", "INVITE", "sip:1@p", "cn").is_err());
    assert!(
        answer_challenge("Digest realm=\"p\", nonce=\"n\", qop=\"auth-int\"", "u", "p", "X", "u", "c")
            .is_err()
    );
}
