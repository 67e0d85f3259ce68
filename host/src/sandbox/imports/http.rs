//! `http.fetch`: only to the hosts of the install's allow-list, never following a
//! redirect (which could leave the list), and never past the decision's deadline —
//! epochs do not advance while the guest waits in a host call, so the timeout here is
//! what bounds it.

use std::io::Read;
use std::time::Duration;

use crate::sandbox::bindings::http::{Host, HttpError, Request, Response};
use crate::sandbox::limits::MAX_HTTP_BODY;
use crate::sandbox::state::DecisionState;

/// Whether `authority` ("host" or "host:port" of a URL) is on `allow_list`. An entry
/// without a port allows every port of its host.
pub fn is_allowed(allow_list: &[String], host: &str, port: Option<u16>) -> bool {
    allow_list.iter().any(|entry| match entry.rsplit_once(':') {
        Some((entry_host, entry_port)) if entry_port.parse::<u16>().is_ok() => {
            entry_host.eq_ignore_ascii_case(host)
                && port.map(|p| p.to_string()).as_deref() == Some(entry_port)
        }
        _ => entry.eq_ignore_ascii_case(host),
    })
}

impl Host for DecisionState {
    fn fetch(&mut self, request: Request) -> Result<Response, HttpError> {
        let uri: ureq::http::Uri = request.url.parse().map_err(|e| HttpError::InvalidUrl(format!("{e}")))?;
        let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
        let Some(host) = uri.host().filter(|_| scheme_ok) else {
            return Err(HttpError::InvalidUrl(format!("{} is not an absolute http(s) URL", request.url)));
        };
        let port = uri.port_u16().or(match uri.scheme_str() {
            Some("https") => Some(443),
            _ => Some(80),
        });
        if !is_allowed(&self.scope.grants.http_allow, host, port) {
            tracing::warn!(company = %self.scope.company, module = %self.scope.module, host, "http request to a host not on the allow-list refused");
            return Err(HttpError::NotAllowed(host.to_string()));
        }
        let timeout = Duration::from_millis(u64::from(request.timeout_ms)).min(self.time_left());
        if timeout.is_zero() {
            return Err(HttpError::Timeout);
        }

        let mut builder = ureq::http::Request::builder().method(request.method.as_str()).uri(uri);
        // The Host header follows the URL, whose host was checked above.
        for (name, value) in request.headers.iter().filter(|(name, _)| !name.eq_ignore_ascii_case("host")) {
            builder = builder.header(name, value);
        }
        let http_request = builder.body(request.body).map_err(|e| HttpError::InvalidUrl(e.to_string()))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent.run(http_request).map_err(|e| match e {
            ureq::Error::Timeout(_) => HttpError::Timeout,
            other => HttpError::Failed(other.to_string()),
        })?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        let mut body = Vec::new();
        response.body_mut().as_reader().take(MAX_HTTP_BODY).read_to_end(&mut body).map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut {
                HttpError::Timeout
            } else {
                HttpError::Failed(e.to_string())
            }
        })?;
        Ok(Response { status, headers, body })
    }
}

#[cfg(test)]
mod tests {
    use super::is_allowed;

    #[test]
    fn allow_list_matches_host_and_optional_port() {
        let list = vec!["crm.example.com".to_string(), "127.0.0.1:9000".to_string()];
        assert!(is_allowed(&list, "crm.example.com", Some(443)));
        assert!(is_allowed(&list, "CRM.example.com", Some(8080)));
        assert!(is_allowed(&list, "127.0.0.1", Some(9000)));
        assert!(!is_allowed(&list, "127.0.0.1", Some(9001)));
        assert!(!is_allowed(&list, "evil.example.com", Some(443)));
        assert!(!is_allowed(&list, "crm.example.com.evil.net", Some(443)));
        assert!(!is_allowed(&[], "crm.example.com", Some(443)));
    }
}
