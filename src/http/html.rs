//! The HTML of pages (share pages, error pages): one frame, escaping of
//! every piece of text that comes from a name, a path or a user. Pages
//! carry no script and no inline style, so the default policy
//! (`default-src 'self'`) forbids both without exceptions.

/// Escapes text for an HTML element or a quoted attribute.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title` is text (escaped here), `body` is HTML built
/// from escaped pieces.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!("{}{body}{PAGE_END}", page_start(title))
}

/// A page up to its body's content (for a page streamed in pieces,
/// which then ends with [`PAGE_END`]).
pub(crate) fn page_start(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · netdisk</title></head>\n<body>\n",
        escape(title)
    )
}

/// The end of every page.
pub(crate) const PAGE_END: &str = "\n</body></html>\n";

/// A byte count as people read it (`1.5 MiB`), with the exact figure
/// left to the `title` of the element that shows it.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_sizes_read_well() {
        assert_eq!(escape("<script>'x'&\"y\""), "&lt;script&gt;&#39;x&#39;&amp;&quot;y&quot;");
        assert!(page("<b>", "").contains("<title>&lt;b&gt; · netdisk</title>"));
        assert_eq!((size(5), size(1536), size(3 << 30)), ("5 B".into(), "1.5 KiB".into(), "3.0 GiB".into()));
    }
}
