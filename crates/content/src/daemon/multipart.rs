//! A streaming `multipart/form-data` reader for `add`, with the bounds a hostile client needs:
//! part headers are limited in size (a 256 MiB file name is refused, not buffered and echoed),
//! and every read of the body has an idle timeout (a stalled upload fails instead of holding a
//! thread). Only what `add` needs: each part's file name and content type, then its bytes.
//!
//! Why not axum's `Multipart` (multer): it buffers a part's headers without limit and cannot
//! time out a stalled body.

use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use axum::http::{header, HeaderMap, StatusCode};
use bytes::{Buf, Bytes, BytesMut};
use futures_util::StreamExt;

use super::error::{ApiError, ApiResult};

/// What a part says about itself.
#[derive(Debug, Default)]
pub(super) struct PartHead {
    /// `filename` of its `Content-Disposition`, as sent (still URL-escaped).
    pub(super) filename: Option<String>,
    /// Its `Content-Type`.
    pub(super) content_type: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Before the first boundary.
    Preamble,
    /// Just after a boundary: `--` (end) or CRLF (headers) follows.
    AfterBoundary,
    /// Inside a part's content.
    Content,
    /// After the closing boundary.
    Done,
}

/// The reader.
pub(super) struct Multipart {
    body: BodyDataStream,
    buf: BytesMut,
    /// `\r\n--BOUNDARY`.
    delimiter: Vec<u8>,
    state: State,
    max_header: usize,
    idle: Duration,
    eof: bool,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

/// The boundary of a `multipart/form-data` content type, or Kubo's 400 for anything else.
fn boundary(headers: &HeaderMap) -> ApiResult<String> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut params = ct.split(';').map(str::trim);
    let kind = params.next().unwrap_or_default();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return Err(bad(format!(
            "the request body must be multipart/form-data (got Content-Type {ct:?}); \
             file argument 'path' is required"
        )));
    }
    params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|b| !b.is_empty() && b.len() <= 200)
        .ok_or_else(|| bad("multipart/form-data without a valid boundary"))
}

impl Multipart {
    /// Reads `body` as the multipart form its headers announce.
    pub(super) fn new(
        headers: &HeaderMap,
        body: Body,
        max_header: usize,
        idle: Duration,
    ) -> ApiResult<Self> {
        let b = boundary(headers)?;
        let mut buf = BytesMut::with_capacity(1 << 16);
        // A leading CRLF lets the first boundary match the same delimiter as the others.
        buf.extend_from_slice(b"\r\n");
        Ok(Self {
            body: body.into_data_stream(),
            buf,
            delimiter: format!("\r\n--{b}").into_bytes(),
            state: State::Preamble,
            max_header,
            idle,
            eof: false,
        })
    }

    /// Reads more of the body into `buf`; false at its end.
    async fn fill(&mut self) -> ApiResult<bool> {
        if self.eof {
            return Ok(false);
        }
        match tokio::time::timeout(self.idle, self.body.next()).await {
            Err(_) => Err(ApiError {
                status: StatusCode::REQUEST_TIMEOUT,
                code: 1,
                message: format!("upload stalled: no data for {} s", self.idle.as_secs_f64()),
            }),
            Ok(Some(Ok(b))) => {
                self.buf.extend_from_slice(&b);
                Ok(true)
            }
            Ok(Some(Err(e))) => Err(bad(format!("reading the request body: {e}"))),
            Ok(None) => {
                self.eof = true;
                Ok(false)
            }
        }
    }

    fn find(&self, needle: &[u8]) -> Option<usize> {
        memchr::memmem::find(&self.buf, needle)
    }

    async fn need(&mut self, n: usize) -> ApiResult<()> {
        while self.buf.len() < n {
            if !self.fill().await? {
                return Err(bad("multipart body ended early"));
            }
        }
        Ok(())
    }

    /// The next part's headers (skipping what is left of the current part), or `None` after
    /// the closing boundary.
    pub(super) async fn next_part(&mut self) -> ApiResult<Option<PartHead>> {
        while self.state == State::Content {
            self.chunk().await?;
        }
        if self.state == State::Preamble {
            loop {
                if let Some(i) = self.find(&self.delimiter.clone()) {
                    self.buf.advance(i + self.delimiter.len());
                    break;
                }
                if self.buf.len() > self.max_header {
                    return Err(bad("no multipart boundary found"));
                }
                if !self.fill().await? {
                    return Err(bad("multipart body ended early"));
                }
            }
            self.state = State::AfterBoundary;
        }
        if self.state == State::Done {
            return Ok(None);
        }
        self.need(2).await?;
        if self.buf.starts_with(b"--") {
            self.state = State::Done;
            return Ok(None);
        }
        if !self.buf.starts_with(b"\r\n") {
            return Err(bad("malformed multipart boundary line"));
        }
        self.buf.advance(2);
        // Headers end at an empty line (which may come first: no headers).
        let end = loop {
            if self.buf.starts_with(b"\r\n") {
                break 0;
            }
            if let Some(i) = self.find(b"\r\n\r\n") {
                break i + 2;
            }
            if self.buf.len() > self.max_header {
                return Err(bad(format!(
                    "multipart part headers are larger than {} bytes",
                    self.max_header
                )));
            }
            if !self.fill().await? {
                return Err(bad("multipart body ended early"));
            }
        };
        if end > self.max_header {
            return Err(bad(format!(
                "multipart part headers are larger than {} bytes",
                self.max_header
            )));
        }
        let head = self.buf.split_to(end);
        self.buf.advance(2);
        self.state = State::Content;
        let text =
            std::str::from_utf8(&head).map_err(|_| bad("multipart part headers are not UTF-8"))?;
        let mut part = PartHead::default();
        for line in text.split("\r\n").filter(|l| !l.is_empty()) {
            let (name, value) =
                line.split_once(':').ok_or_else(|| bad("malformed multipart part header"))?;
            let value = value.trim();
            if name.trim().eq_ignore_ascii_case("content-type") {
                part.content_type = Some(value.to_owned());
            } else if name.trim().eq_ignore_ascii_case("content-disposition") {
                part.filename = disposition_param(value, "filename");
            }
        }
        Ok(Some(part))
    }

    /// The next bytes of the current part, or `None` at its end.
    pub(super) async fn chunk(&mut self) -> ApiResult<Option<Bytes>> {
        if self.state != State::Content {
            return Ok(None);
        }
        loop {
            match self.find(&self.delimiter) {
                Some(0) => {
                    self.buf.advance(self.delimiter.len());
                    self.state = State::AfterBoundary;
                    return Ok(None);
                }
                Some(i) => return Ok(Some(self.buf.split_to(i).freeze())),
                None => {
                    // Everything but a possible start of the delimiter is content.
                    let safe = self.buf.len().saturating_sub(self.delimiter.len() - 1);
                    if safe >= 1 << 16 || (safe > 0 && self.eof) {
                        return Ok(Some(self.buf.split_to(safe).freeze()));
                    }
                    if !self.fill().await? {
                        return Err(bad("multipart body ended before the closing boundary"));
                    }
                }
            }
        }
    }
}

/// A parameter of a `Content-Disposition` value (`form-data; name="file"; filename="a b"`),
/// quoted-string escapes undone.
fn disposition_param(value: &str, want: &str) -> Option<String> {
    let mut rest = value;
    while let Some(i) = rest.find(';') {
        rest = rest[i + 1..].trim_start();
        let (key, after) = rest.split_once('=')?;
        let key = key.trim();
        let after = after.trim_start();
        let (val, tail) = if let Some(q) = after.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((j, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = j + 1;
                        break;
                    }
                    c => out.push(c),
                }
            }
            (out, &q[end..])
        } else {
            let e = after.find(';').unwrap_or(after.len());
            (after[..e].trim().to_owned(), &after[e..])
        };
        if key.eq_ignore_ascii_case(want) {
            return Some(val);
        }
        rest = tail;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::disposition_param;

    #[test]
    fn disposition_parameters() {
        let v = r#"form-data; name="file"; filename="a \"b\";c""#;
        assert_eq!(disposition_param(v, "filename").as_deref(), Some("a \"b\";c"));
        assert_eq!(disposition_param(v, "name").as_deref(), Some("file"));
        assert_eq!(disposition_param("form-data; name=file", "filename"), None);
        assert_eq!(
            disposition_param("form-data; filename=x.bin", "filename").as_deref(),
            Some("x.bin")
        );
    }
}
