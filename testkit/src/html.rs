//! The few HTML pages the test platform serves.

/// Escapes text for use in HTML content and double-quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Renders a page whose form posts `fields` to `action` as soon as it loads,
/// the way platforms deliver form_post responses and POST login initiations.
pub(crate) fn auto_submit_form(title: &str, action: &str, fields: &[(String, String)]) -> String {
    let inputs: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                "    <input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                escape(name),
                escape(value)
            )
        })
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body onload=\"document.forms[0].submit()\">\n\
         <form method=\"post\" action=\"{action}\">\n{inputs}\
         <noscript><button type=\"submit\">Continue</button></noscript>\n\
         </form>\n</body>\n</html>\n",
        title = escape(title),
        action = escape(action),
    )
}

/// Renders a plain page with a heading and one paragraph.
pub(crate) fn message_page(title: &str, message: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body>\n<h1>{title}</h1>\n<p>{message}</p>\n</body>\n</html>\n",
        title = escape(title),
        message = escape(message),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_characters() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
