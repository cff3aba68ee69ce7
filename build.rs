//! Embeds every template under `templates/` into the binary.

fn main() {
    minijinja_embed::embed_templates!("templates");
}
