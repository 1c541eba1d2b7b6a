//! Alerts by email: a multipart message (plain text and HTML, every value
//! escaped) sent over SMTP with lettre — STARTTLS or TLS on the same rustls and
//! ring as everything else, a login from the environment when the server wants
//! one, and a deadline on every step.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use lettre::message::{Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};

use crate::alert::http::Failure;
use crate::alert::message::{Message, headline, one_line, since};
use crate::alert::sinks::{html, html_line, plain};
use crate::settings::Notifier;

/// Where and how to reach the SMTP server, from `smtp = "…"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// `smtps://`: TLS from the first byte.
    Wrapper,
    /// `smtp://` (the default): STARTTLS, and no mail without it.
    Required,
    /// `smtp://…?tls=opportunistic`: STARTTLS when offered.
    Opportunistic,
    /// `smtp://…?tls=none`: plain text, for a relay on a trusted network.
    None,
}

/// Reads `smtp://host[:port][?tls=…]` or `smtps://host[:port]`.
pub fn server(url: &str) -> Result<Server> {
    let (scheme, rest) = url.split_once("://").with_context(|| format!("smtp = {url:?} has no scheme"))?;
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = authority.trim_end_matches('/');
    if authority.contains('@') {
        bail!("smtp = {url:?}: put the login in username_env / password_env, not in the address");
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse::<u16>().with_context(|| format!("smtp = {url:?}: bad port {p:?}"))?)),
        None => (authority, None),
    };
    if host.is_empty() {
        bail!("smtp = {url:?} names no host");
    }
    let tls = match (scheme, query) {
        ("smtps", "") => TlsMode::Wrapper,
        ("smtp", "" | "tls=required") => TlsMode::Required,
        ("smtp", "tls=opportunistic") => TlsMode::Opportunistic,
        ("smtp", "tls=none") => TlsMode::None,
        _ => bail!("smtp = {url:?}: use smtps://host, smtp://host (STARTTLS), or smtp://host?tls=opportunistic|none"),
    };
    let port = port.unwrap_or(if tls == TlsMode::Wrapper { 465 } else { 587 });
    Ok(Server { host: host.to_owned(), port, tls })
}

/// The mail for `m`: `Subject` on one line, plain text and HTML.
pub fn mail(m: &Message, n: &Notifier) -> Result<lettre::Message> {
    let from: Mailbox = n.from.as_deref().unwrap_or_default().parse().map_err(|e| anyhow!("from: {e}"))?;
    let mut builder = lettre::Message::builder().from(from).subject(one_line(&m.title));
    for to in &n.to {
        let to: Mailbox = to.parse().map_err(|e| anyhow!("to {to:?}: {e}"))?;
        builder = builder.to(to);
    }
    let body = MultiPart::alternative()
        .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(plain(m)))
        .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html_body(m)));
    builder.multipart(body).context("cannot build the mail")
}

fn html_body(m: &Message) -> String {
    let mut out = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"font-family:sans-serif\"><h1 style=\"font-size:1.2em\">{}</h1>",
        html(&m.title),
        html(&m.title)
    );
    for e in &m.environments {
        let link = if e.link.starts_with("http") {
            format!("<a href=\"{}\">{}</a>", html(&e.link), html(&e.env))
        } else {
            html(&e.env)
        };
        out.push_str(&format!("<h2 style=\"font-size:1.05em\">{link}</h2><ul>"));
        for c in &e.changes {
            out.push_str(&format!("<li><strong>{}</strong> {}", html(headline(c)), html_line(c)));
            if !c.logs.is_empty() {
                out.push_str(&format!(
                    "<pre style=\"white-space:pre-wrap;font-size:.9em\">{}</pre>",
                    html(&c.logs.join("\n"))
                ));
            }
            out.push_str("</li>");
        }
        out.push_str("</ul>");
    }
    let dashboard = if m.dashboard.starts_with("http") {
        format!("<a href=\"{}\">All environments</a>", html(&m.dashboard))
    } else {
        "All environments: index.html".to_owned()
    };
    out.push_str(&format!("<p>{dashboard} · {}</p></body></html>", html(&since(m.generated_at))));
    out
}

/// Sends `m` once, within `timeout` for each step of the SMTP dialogue. What
/// cannot succeed on another try (the settings, a 5xx answer such as an unknown
/// recipient or a refused login) is [`Failure::Permanent`]; a refused or dropped
/// connection, a timeout or a 4xx answer is worth another try.
pub fn send(m: &Message, n: &Notifier, timeout: Duration) -> Result<(), Failure> {
    let (transport, s) = transport(n, timeout).map_err(|e| Failure::Permanent(format!("{e:#}")))?;
    let mail = mail(m, n).map_err(|e| Failure::Permanent(format!("{e:#}")))?;
    transport.send(&mail).map(drop).map_err(|e| {
        let said = format!("SMTP server {}:{} did not take the mail: {e}", s.host, s.port);
        if e.is_permanent() { Failure::Permanent(said) } else { Failure::Transient(said) }
    })
}

/// The SMTP client for notifier `n`, from its settings and the environment.
fn transport(n: &Notifier, timeout: Duration) -> Result<(SmtpTransport, Server)> {
    let url = n.smtp.as_deref().unwrap_or_default();
    let s = server(url)?;
    let params = || TlsParameters::new(s.host.clone()).context("cannot set up TLS for the SMTP server");
    let tls = match s.tls {
        TlsMode::Wrapper => Tls::Wrapper(params()?),
        TlsMode::Required => Tls::Required(params()?),
        TlsMode::Opportunistic => Tls::Opportunistic(params()?),
        TlsMode::None => Tls::None,
    };
    let mut transport = SmtpTransport::builder_dangerous(&s.host).port(s.port).tls(tls).timeout(Some(timeout));
    if let Some(user_env) = &n.username_env {
        let user =
            std::env::var(user_env).with_context(|| format!("the SMTP user's variable {user_env} is not set"))?;
        let password_env = n.password_env.as_deref().unwrap_or_default();
        let password = std::env::var(password_env)
            .with_context(|| format!("the SMTP password's variable {password_env:?} is not set"))?;
        transport = transport.credentials(Credentials::new(user, password));
    }
    Ok((transport.build(), s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_addresses() {
        assert_eq!(
            server("smtp://mail.example.io").unwrap(),
            Server { host: "mail.example.io".into(), port: 587, tls: TlsMode::Required }
        );
        assert_eq!(server("smtps://mail.example.io").unwrap().port, 465);
        assert_eq!(server("smtp://127.0.0.1:2525?tls=none").unwrap().tls, TlsMode::None);
        assert_eq!(server("smtp://m:25?tls=opportunistic").unwrap().tls, TlsMode::Opportunistic);
        for bad in
            ["mail.example.io", "smtp://user:pw@m", "smtp://m:x", "smtp://m?tls=maybe", "smtps://m?tls=none", "smtp://"]
        {
            assert!(server(bad).is_err(), "{bad}");
        }
    }
}
