//! minijinja templates, built into the binary from `templates/`.
//! HTML templates auto-escape every value.

use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::response::Html;
use minijinja::Environment;
use serde::Serialize;

// The loader that minijinja_embed generates calls `expect` on embedded data
// that the build script produced, which cannot be malformed at run time.
#[allow(clippy::expect_used)]
fn build() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    minijinja_embed::load_templates!(&mut env);
    env.add_filter("datetime", format_datetime);
    env.add_filter("ceus", format_ceus);
    Ok(env)
}

/// `{{ value|datetime }}`: an RFC 3339 timestamp as `2026-12-04 20:55 UTC`.
fn format_datetime(value: String) -> String {
    chrono::DateTime::parse_from_rfc3339(&value)
        .map(|t| t.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or(value)
}

/// `{{ value|ceus }}`: CEUs with up to two decimals, e.g. `2.0` or `1.25`.
fn format_ceus(value: f64) -> String {
    let text = format!("{value:.2}");
    let trimmed = text.trim_end_matches('0');
    if trimmed.ends_with('.') { format!("{trimmed}0") } else { trimmed.to_string() }
}

fn environment() -> &'static Result<Environment<'static>, minijinja::Error> {
    static ENV: OnceLock<Result<Environment<'static>, minijinja::Error>> = OnceLock::new();
    ENV.get_or_init(build)
}

/// Check at start-up that every template parses.
pub fn check() -> anyhow::Result<()> {
    match environment() {
        Ok(_) => Ok(()),
        Err(e) => Err(anyhow::anyhow!("a template failed to load: {e:#}")),
    }
}

/// Render `name` with `context`.
pub fn render<S: Serialize>(name: &str, context: S) -> anyhow::Result<Html<String>> {
    let env = environment().as_ref().map_err(|e| anyhow::anyhow!("templates failed to load: {e:#}"))?;
    let html = env.get_template(name)?.render(context)?;
    Ok(Html(html))
}

/// Render the error page, falling back to plain text if templates fail.
pub fn render_error(
    status: StatusCode,
    title: &str,
    message: &str,
    reason: Option<&str>,
    code: &str,
    admin_hint: Option<&str>,
    request_id: &str,
) -> Html<String> {
    let context = minijinja::context! {
        status => status.as_u16(),
        title => title,
        message => message,
        reason => reason,
        code => code,
        admin_hint => admin_hint,
        request_id => request_id,
    };
    render("error.html", context).unwrap_or_else(|_| {
        Html(format!(
            "<!doctype html><title>{}</title><p>{}</p><p>Request id: {}</p>",
            html_escape(title),
            html_escape(message),
            html_escape(request_id)
        ))
    })
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
