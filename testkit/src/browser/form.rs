//! HTML form extraction, close to what a browser submits for `form.submit()`.

use reqwest::Method;
use scraper::{ElementRef, Html, Selector};
use url::Url;

/// A form found in a page, ready to submit with `Browser::submit_form`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HtmlForm {
    /// Absolute action URL: the `action` attribute resolved against the page
    /// URL, or the page URL when the attribute is missing or empty.
    pub action: Url,
    /// GET or POST.
    pub method: Method,
    /// Name and value pairs in document order, as `form.submit()` sends them:
    /// no submit buttons, and checkboxes or radio buttons only when checked.
    pub fields: Vec<(String, String)>,
    /// URL of the page that contains the form, the initiator of its submission.
    pub page_url: Url,
}

impl HtmlForm {
    /// Returns the value of the first field called `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }

    /// Sets the first field called `name`, or appends it when there is none.
    pub fn set_field(&mut self, name: &str, value: &str) -> &mut HtmlForm {
        match self.fields.iter_mut().find(|(field, _)| field == name) {
            Some(field) => field.1 = value.to_owned(),
            None => self.fields.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    /// Removes every field called `name`.
    pub fn remove_field(&mut self, name: &str) -> &mut HtmlForm {
        self.fields.retain(|(field, _)| field != name);
        self
    }

    /// Consuming form of [`HtmlForm::set_field`].
    pub fn with_field(mut self, name: &str, value: &str) -> HtmlForm {
        self.set_field(name, value);
        self
    }

    /// Consuming form of [`HtmlForm::remove_field`].
    pub fn without_field(mut self, name: &str) -> HtmlForm {
        self.remove_field(name);
        self
    }
}

/// Extracts every `<form>` of `html` in document order.
pub(crate) fn parse_forms(html: &str, page_url: &Url) -> Vec<HtmlForm> {
    let document = Html::parse_document(html);
    let form_selector = Selector::parse("form").expect("the form selector is valid CSS");
    let control_selector =
        Selector::parse("input, textarea, select").expect("the control selector is valid CSS");

    document
        .select(&form_selector)
        .map(|form| {
            let method = match form.attr("method").map(str::to_ascii_lowercase).as_deref() {
                Some("post") => Method::POST,
                _ => Method::GET,
            };
            let action = match form.attr("action").map(str::trim) {
                Some(action) if !action.is_empty() => {
                    page_url.join(action).unwrap_or_else(|_| page_url.clone())
                }
                _ => page_url.clone(),
            };
            let fields = form
                .select(&control_selector)
                .filter_map(control_value)
                .collect();
            HtmlForm {
                action,
                method,
                fields,
                page_url: page_url.clone(),
            }
        })
        .collect()
}

/// Returns the name and value a control contributes, if any.
fn control_value(control: ElementRef<'_>) -> Option<(String, String)> {
    if control.attr("disabled").is_some() {
        return None;
    }
    let name = control
        .attr("name")
        .filter(|name| !name.is_empty())?
        .to_owned();

    match control.value().name() {
        "textarea" => Some((name, control.text().collect())),
        "select" => {
            let option_selector =
                Selector::parse("option").expect("the option selector is valid CSS");
            let options: Vec<ElementRef<'_>> = control.select(&option_selector).collect();
            let chosen = options
                .iter()
                .find(|option| option.attr("selected").is_some())
                .or_else(|| options.first())?;
            let value = match chosen.attr("value") {
                Some(value) => value.to_owned(),
                None => chosen.text().collect::<String>().trim().to_owned(),
            };
            Some((name, value))
        }
        _ => {
            let input_type = control
                .attr("type")
                .map(str::to_ascii_lowercase)
                .unwrap_or_else(|| "text".to_owned());
            match input_type.as_str() {
                "submit" | "button" | "reset" | "image" | "file" => None,
                "checkbox" | "radio" => {
                    control.attr("checked")?;
                    let value = control.attr("value").unwrap_or("on");
                    Some((name, value.to_owned()))
                }
                _ => Some((name, control.attr("value").unwrap_or("").to_owned())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms_reads_hidden_inputs() {
        let html = r#"<!DOCTYPE html><html><body onload="document.forms[0].submit()">
            <form method="POST" action="/lti/launch">
              <input type="hidden" name="id_token" value="a.b.c">
              <input type="hidden" name="state" value="s&amp;1">
              <input type="submit" name="go" value="Continue">
              <input type="checkbox" name="unchecked" value="x">
              <input type="checkbox" name="checked" checked>
              <input type="text" name="disabled" value="no" disabled>
              <textarea name="note">hello</textarea>
              <select name="choice"><option value="1">One</option><option selected>Two</option></select>
            </form></body></html>"#;
        let page_url = Url::parse("http://127.0.0.1:4000/authorize").expect("test URL is valid");

        let forms = parse_forms(html, &page_url);

        assert_eq!(forms.len(), 1);
        let form = &forms[0];
        assert_eq!(form.method, Method::POST);
        assert_eq!(form.action.as_str(), "http://127.0.0.1:4000/lti/launch");
        assert_eq!(
            form.fields,
            vec![
                ("id_token".to_owned(), "a.b.c".to_owned()),
                ("state".to_owned(), "s&1".to_owned()),
                ("checked".to_owned(), "on".to_owned()),
                ("note".to_owned(), "hello".to_owned()),
                ("choice".to_owned(), "Two".to_owned()),
            ]
        );
    }

    #[test]
    fn parse_forms_defaults_to_get_and_page_url() {
        let page_url = Url::parse("http://127.0.0.1:4000/page?x=1").expect("test URL is valid");

        let forms = parse_forms("<form><input name=q value=v></form>", &page_url);

        assert_eq!(forms[0].method, Method::GET);
        assert_eq!(forms[0].action, page_url);
        assert_eq!(forms[0].field("q"), Some("v"));
    }
}
