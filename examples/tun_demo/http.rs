//! A small HTTP/1.1 server for the stack's own /proc/net: `GET /` lists the
//! files, `GET /proc/net/NAME` renders one from a snapshot taken when the
//! request arrives (so /proc/net/tcp shows the connection asking for it).
//! One request per connection (`Connection: close`).

use sandnet::netstack::{Snapshot, Stack, TcpStream};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

/// Longest request head accepted.
const MAX_HEAD: usize = 8192;

#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: &'static str,
    pub body: String,
    /// HEAD: headers only.
    pub head_only: bool,
}

impl Response {
    fn new(status: u16, reason: &'static str, body: String) -> Response {
        Response {
            status,
            reason,
            body,
            head_only: false,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.reason,
            self.body.len()
        );
        if self.status == 405 {
            out.push_str("Allow: GET, HEAD\r\n");
        }
        out.push_str("Server: sandnet tun_demo\r\n\r\n");
        let mut bytes = out.into_bytes();
        if !self.head_only {
            bytes.extend_from_slice(self.body.as_bytes());
        }
        bytes
    }
}

/// The listing served at `/`.
pub fn index() -> String {
    let mut s = String::from("The stack's /proc/net, rendered as Linux 6.18 prints it:\n");
    for (name, _) in sandnet::procnet::FILES {
        s.push_str(&format!("/proc/net/{name}\n"));
    }
    s
}

/// The answer to a request whose head is `head` (request line and headers).
/// `snapshot` is called only for a file, after the request was read.
pub fn respond(head: &str, snapshot: impl FnOnce() -> Snapshot) -> Response {
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Response::new(400, "Bad Request", "malformed request line\n".into());
    };
    if !version.starts_with("HTTP/1.") {
        return Response::new(505, "HTTP Version Not Supported", "HTTP/1.x only\n".into());
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Response::new(405, "Method Not Allowed", "GET or HEAD only\n".into()),
    };
    let path = target.split(['?', '#']).next().unwrap_or("");
    let mut r = match path.trim_end_matches('/') {
        "" | "/proc" | "/proc/net" => Response::new(200, "OK", index()),
        p => match p.strip_prefix("/proc/net/") {
            Some(name) if !name.contains('/') => {
                match sandnet::procnet::render(name, &snapshot()) {
                    Some(text) => Response::new(200, "OK", text),
                    None => not_found(path),
                }
            }
            _ => not_found(path),
        },
    };
    r.head_only = head_only;
    r
}

fn not_found(path: &str) -> Response {
    Response::new(
        404,
        "Not Found",
        format!("{path}: no such file; GET / lists them\n"),
    )
}

/// Reads the request head (up to the blank line). None if the client went
/// away, sent too much or too slowly.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if text.contains("\r\n\r\n") || text.contains("\n\n") {
            return Some(text.into_owned());
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
    }
}

/// Serves one connection of the stack.
pub fn serve(mut stream: TcpStream, stack: &Stack) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let response = match read_head(&mut stream) {
        Some(head) => respond(&head, || stack.snapshot()),
        None => Response::new(400, "Bad Request", "incomplete request\n".into()),
    };
    if stream.write_all(&response.to_bytes()).is_err() {
        return;
    }
    // Close as a server should: FIN first, then wait for the client's, so
    // that nothing unread turns the close into a reset.
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}
