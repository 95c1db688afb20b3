//! A small, strict XML reader and writer for WebDAV bodies.
//!
//! The reader takes the whole body (at most [`MAX_BODY`] bytes, UTF-8) and
//! builds a tree of [`Element`]s with resolved namespaces, without
//! recursion: an explicit stack of open elements, at most [`MAX_DEPTH`]
//! deep (trees that deep drop in bounded recursion). It refuses what
//! hostile bodies use: any `DOCTYPE` (so no entity is ever declared, no
//! external entity is ever fetched), any reference other than the five
//! predefined entities and numeric character references, unbound
//! prefixes, mismatched tags. Comments and processing instructions are
//! skipped; CDATA is text.
//!
//! The writer ([`Writer`]) builds a reply in a `String` with escaping and
//! `D:` for `DAV:`; [`Writer::element`] writes a stored element back with
//! its namespaces declared where they are needed, again without recursion.

use std::fmt;

/// Largest request body parsed.
pub const MAX_BODY: usize = 1 << 20;
/// Deepest element nesting accepted (the document element is level 1).
pub const MAX_DEPTH: usize = 32;

/// The WebDAV namespace.
pub const DAV: &str = "DAV:";

/// Why a body was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XmlError {
    /// More than the size limit (`413`).
    TooLarge,
    /// Nested deeper than the limit (`400`).
    TooDeep,
    /// A `DOCTYPE` (`400`): no DTD, no entities of its own.
    Doctype,
    /// Not well-formed, or a reference that is not predefined (`400`).
    Malformed(&'static str),
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::TooLarge => write!(f, "XML body over {} bytes", MAX_BODY),
            XmlError::TooDeep => write!(f, "XML nested deeper than {MAX_DEPTH} levels"),
            XmlError::Doctype => write!(f, "XML with a DOCTYPE is refused"),
            XmlError::Malformed(why) => write!(f, "malformed XML: {why}"),
        }
    }
}

impl std::error::Error for XmlError {}

/// A name with its namespace resolved (empty: no namespace).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    /// The namespace URI.
    pub ns: String,
    /// The local part.
    pub local: String,
}

impl Name {
    /// A name in `ns`.
    pub fn new(ns: &str, local: &str) -> Name {
        Name { ns: ns.to_string(), local: local.to_string() }
    }

    /// Whether this is `DAV:` `local`.
    pub fn is_dav(&self, local: &str) -> bool {
        self.ns == DAV && self.local == local
    }
}

/// One node of a parsed document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data (references already replaced).
    Text(String),
}

/// An element with resolved names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    /// Its name.
    pub name: Name,
    /// Its attributes other than namespace declarations.
    pub attrs: Vec<(Name, String)>,
    /// Its content, in order.
    pub children: Vec<Node>,
}

impl Element {
    /// An empty element.
    pub fn new(name: Name) -> Element {
        Element { name, attrs: Vec::new(), children: Vec::new() }
    }

    /// The child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element `DAV:` `local`.
    pub fn dav_child(&self, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.name.is_dav(local))
    }

    /// The text directly inside, concatenated.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                out.push_str(t);
            }
        }
        out
    }
}

/// Parses a whole document: exactly one document element.
pub fn parse(body: &[u8]) -> Result<Element, XmlError> {
    parse_limited(body, MAX_BODY, MAX_DEPTH)
}

/// [`parse`] with other limits (stored records are parsed with a depth of
/// one more than requests).
pub fn parse_limited(body: &[u8], max_body: usize, max_depth: usize) -> Result<Element, XmlError> {
    if body.len() > max_body {
        return Err(XmlError::TooLarge);
    }
    let text = std::str::from_utf8(body).map_err(|_| XmlError::Malformed("not UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    Parser { s: text, pos: 0, max_depth }.document()
}

/// One open element while parsing: the element so far and the namespace
/// bindings it declared (prefix, URI; `""` for the default namespace).
struct Open {
    el: Element,
    bindings: Vec<(String, String)>,
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    max_depth: usize,
}

fn bad(why: &'static str) -> XmlError {
    XmlError::Malformed(why)
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        let t = r.trim_start_matches([' ', '\t', '\r', '\n']);
        self.pos += r.len() - t.len();
    }

    /// Skips to just past `end`.
    fn skip_past(&mut self, end: &str, why: &'static str) -> Result<&'a str, XmlError> {
        let r = self.rest();
        let at = r.find(end).ok_or(bad(why))?;
        self.pos += at + end.len();
        Ok(&r[..at])
    }

    /// Comments, processing instructions, the XML declaration, whitespace;
    /// refuses a DOCTYPE. Used before and after the document element.
    fn misc(&mut self) -> Result<(), XmlError> {
        loop {
            self.skip_ws();
            let r = self.rest();
            if r.starts_with("<?") {
                self.skip_past("?>", "unterminated processing instruction")?;
            } else if r.starts_with("<!--") {
                self.comment()?;
            } else if r.starts_with("<!") {
                return Err(if r.starts_with("<!DOCTYPE") { XmlError::Doctype } else { bad("markup declaration") });
            } else {
                return Ok(());
            }
        }
    }

    fn comment(&mut self) -> Result<(), XmlError> {
        self.pos += 4;
        let body = self.skip_past("-->", "unterminated comment")?;
        if body.contains("--") || body.ends_with('-') {
            return Err(bad("'--' in a comment"));
        }
        Ok(())
    }

    fn document(mut self) -> Result<Element, XmlError> {
        self.misc()?;
        if !self.rest().starts_with('<') {
            return Err(bad(if self.rest().is_empty() {
                "no document element"
            } else {
                "text outside the document element"
            }));
        }
        let mut stack: Vec<Open> = Vec::new();
        let root = loop {
            let r = self.rest();
            if r.is_empty() {
                return Err(bad("unclosed element"));
            }
            if r.starts_with("</") {
                self.pos += 2;
                let qname = self.name()?;
                self.skip_ws();
                if !self.rest().starts_with('>') {
                    return Err(bad("bad end tag"));
                }
                self.pos += 1;
                let open = stack.pop().ok_or(bad("end tag without start"))?;
                if qname != qualified(&open) {
                    return Err(bad("mismatched end tag"));
                }
                match stack.last_mut() {
                    Some(parent) => parent.el.children.push(Node::Element(open.el)),
                    None => break open.el,
                }
            } else if r.starts_with("<!--") {
                self.comment()?;
            } else if r.starts_with("<![CDATA[") {
                self.pos += 9;
                let data = self.skip_past("]]>", "unterminated CDATA")?;
                check_chars(data)?;
                push_text(&mut stack, data.to_string())?;
            } else if r.starts_with("<!") {
                return Err(if r.starts_with("<!DOCTYPE") { XmlError::Doctype } else { bad("markup declaration") });
            } else if r.starts_with("<?") {
                self.skip_past("?>", "unterminated processing instruction")?;
            } else if r.starts_with('<') {
                if stack.len() >= self.max_depth {
                    return Err(XmlError::TooDeep);
                }
                self.pos += 1;
                let (open, empty) = self.start_tag(&stack)?;
                if empty {
                    match stack.last_mut() {
                        Some(parent) => parent.el.children.push(Node::Element(open.el)),
                        None => break open.el,
                    }
                } else {
                    stack.push(open);
                }
            } else {
                let end = r.find('<').unwrap_or(r.len());
                let raw = &r[..end];
                self.pos += end;
                let text = unescape(raw)?;
                push_text(&mut stack, text)?;
            }
        };
        self.misc()?;
        if !self.rest().is_empty() {
            return Err(bad("content after the document element"));
        }
        Ok(root)
    }

    fn name(&mut self) -> Result<&'a str, XmlError> {
        let r = self.rest();
        let end = r.find(|c: char| c.is_ascii_whitespace() || matches!(c, '/' | '>' | '=' | '<')).unwrap_or(r.len());
        let name = &r[..end];
        if !valid_qname(name) {
            return Err(bad("bad name"));
        }
        self.pos += end;
        Ok(name)
    }

    /// After `<`: the name, attributes and `>` or `/>`.
    fn start_tag(&mut self, stack: &[Open]) -> Result<(Open, bool), XmlError> {
        let qname = self.name()?;
        let mut raw_attrs: Vec<(&str, String)> = Vec::new();
        let empty = loop {
            let before = self.pos;
            self.skip_ws();
            let r = self.rest();
            if let Some(after) = r.strip_prefix("/>") {
                self.pos = self.s.len() - after.len();
                break true;
            }
            if r.starts_with('>') {
                self.pos += 1;
                break false;
            }
            if r.is_empty() {
                return Err(bad("unterminated start tag"));
            }
            if self.pos == before {
                return Err(bad("no space between attributes"));
            }
            let name = self.name()?;
            self.skip_ws();
            if !self.rest().starts_with('=') {
                return Err(bad("attribute without value"));
            }
            self.pos += 1;
            self.skip_ws();
            let quote = self.rest().chars().next().ok_or(bad("unterminated start tag"))?;
            if quote != '"' && quote != '\'' {
                return Err(bad("unquoted attribute value"));
            }
            self.pos += 1;
            let r = self.rest();
            let end = r.find(quote).ok_or(bad("unterminated attribute value"))?;
            let raw = &r[..end];
            if raw.contains('<') {
                return Err(bad("'<' in an attribute value"));
            }
            self.pos += end + 1;
            if raw_attrs.iter().any(|(n, _)| *n == name) {
                return Err(bad("duplicate attribute"));
            }
            // Attribute values are normalised: whitespace characters become spaces.
            let value = unescape(raw)?.replace(['\t', '\n', '\r'], " ");
            raw_attrs.push((name, value));
        };
        let mut bindings = Vec::new();
        let mut attrs = Vec::new();
        for (name, value) in &raw_attrs {
            if *name == "xmlns" {
                bindings.push((String::new(), value.clone()));
            } else if let Some(prefix) = name.strip_prefix("xmlns:") {
                if value.is_empty() {
                    return Err(bad("empty namespace for a prefix"));
                }
                if prefix == "xmlns" || (prefix == "xml") != (value == XML_NS) {
                    return Err(bad("reserved prefix"));
                }
                bindings.push((prefix.to_string(), value.clone()));
            }
        }
        let resolve = |prefix: &str| -> Option<String> {
            if prefix == "xml" {
                return Some(XML_NS.to_string());
            }
            bindings
                .iter()
                .rev()
                .chain(stack.iter().rev().flat_map(|o| o.bindings.iter().rev()))
                .find(|(p, _)| p == prefix)
                .map(|(_, uri)| uri.clone())
        };
        let name = match qname.split_once(':') {
            Some((prefix, local)) => {
                Name { ns: resolve(prefix).ok_or(bad("unbound prefix"))?, local: local.to_string() }
            }
            None => Name { ns: resolve("").unwrap_or_default(), local: qname.to_string() },
        };
        for (n, value) in raw_attrs {
            if n == "xmlns" || n.starts_with("xmlns:") {
                continue;
            }
            let an = match n.split_once(':') {
                Some((prefix, local)) => {
                    Name { ns: resolve(prefix).ok_or(bad("unbound prefix"))?, local: local.to_string() }
                }
                None => Name { ns: String::new(), local: n.to_string() },
            };
            if attrs.iter().any(|(a, _): &(Name, String)| *a == an) {
                return Err(bad("duplicate attribute"));
            }
            attrs.push((an, value));
        }
        let mut el = Element::new(name);
        el.attrs = attrs;
        let mut open = Open { el, bindings };
        // The qualified name is kept to match the end tag.
        open.bindings.push((QNAME_KEY.to_string(), qname.to_string()));
        Ok((open, empty))
    }
}

/// The namespace of the `xml` prefix.
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// Where an open element keeps its qualified name (not a valid prefix).
const QNAME_KEY: &str = " qname";

fn qualified(open: &Open) -> &str {
    open.bindings.iter().rev().find(|(k, _)| k == QNAME_KEY).map_or("", |(_, v)| v.as_str())
}

fn push_text(stack: &mut [Open], text: String) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(open) => {
            if let Some(Node::Text(t)) = open.el.children.last_mut() {
                t.push_str(&text);
            } else {
                open.el.children.push(Node::Text(text));
            }
            Ok(())
        }
        None => Err(bad("text outside the document element")),
    }
}

fn name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || (c as u32 >= 0xC0 && !c.is_whitespace() && !c.is_control())
}

fn name_char(c: char) -> bool {
    name_start(c) || c.is_ascii_digit() || matches!(c, '-' | '.' | '\u{B7}') || c.is_numeric()
}

/// A name with at most one colon, not at either end.
fn valid_qname(name: &str) -> bool {
    let parts: Vec<&str> = name.split(':').collect();
    parts.len() <= 2
        && parts.iter().all(|p| {
            let mut cs = p.chars();
            cs.next().is_some_and(name_start) && cs.all(name_char)
        })
}

fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

fn check_chars(text: &str) -> Result<(), XmlError> {
    if text.chars().all(xml_char) { Ok(()) } else { Err(bad("character not allowed in XML")) }
}

/// Replaces the predefined entities and character references; refuses
/// any other reference and a bare `&`.
fn unescape(raw: &str) -> Result<String, XmlError> {
    check_chars(raw)?;
    if raw.contains("]]>") {
        return Err(bad("']]>' in text"));
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let end = after.find(';').ok_or(bad("unterminated reference"))?;
        let name = &after[..end];
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "apos" => '\'',
            "quot" => '"',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16)
                        .ok()
                        .filter(|_| !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse::<u32>().ok().filter(|_| !dec.is_empty() && dec.chars().all(|c| c.is_ascii_digit()))
                } else {
                    return Err(bad("reference to an entity that is not predefined"));
                };
                code.and_then(char::from_u32).filter(|c| xml_char(*c)).ok_or(bad("bad character reference"))?
            }
        };
        out.push(c);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Escapes text for element content (quotes stay as they are: clients
/// read ETags such as `"MD5"` from element text).
pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Escapes an attribute value (in double quotes).
fn escape_attr(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            c => escape(&c.to_string(), out),
        }
    }
}

/// Builds an XML reply. `DAV:` elements are written with the prefix `D`,
/// declared on the document element by [`Writer::document`].
#[derive(Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    /// A document whose element is `DAV:` `local`, with `D` declared.
    pub fn document(local: &str) -> Writer {
        let mut w = Writer { out: String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n") };
        w.out.push_str("<D:");
        w.out.push_str(local);
        w.out.push_str(" xmlns:D=\"DAV:\">");
        w
    }

    /// A writer of a fragment (inside a reply started elsewhere).
    pub fn fragment() -> Writer {
        Writer::default()
    }

    /// `<D:local>`.
    pub fn open(&mut self, local: &str) -> &mut Writer {
        self.out.push_str("<D:");
        self.out.push_str(local);
        self.out.push('>');
        self
    }

    /// `</D:local>`.
    pub fn close(&mut self, local: &str) -> &mut Writer {
        self.out.push_str("</D:");
        self.out.push_str(local);
        self.out.push('>');
        self
    }

    /// `<D:local/>`.
    pub fn empty(&mut self, local: &str) -> &mut Writer {
        self.out.push_str("<D:");
        self.out.push_str(local);
        self.out.push_str("/>");
        self
    }

    /// `<D:local>text</D:local>`, escaped.
    pub fn text_element(&mut self, local: &str, text: &str) -> &mut Writer {
        self.open(local);
        escape(text, &mut self.out);
        self.close(local)
    }

    /// Escaped text.
    pub fn text(&mut self, text: &str) -> &mut Writer {
        escape(text, &mut self.out);
        self
    }

    /// Markup written by the caller, as is.
    pub fn raw(&mut self, markup: &str) -> &mut Writer {
        self.out.push_str(markup);
        self
    }

    /// An empty element of any namespace (a property name in a reply).
    pub fn empty_named(&mut self, name: &Name) -> &mut Writer {
        let el = Element::new(name.clone());
        self.element(&el)
    }

    /// A whole element with its content, namespaces declared on the
    /// element that uses them. No recursion: a stack of what is left to
    /// write.
    pub fn element(&mut self, el: &Element) -> &mut Writer {
        enum Step<'e> {
            Start(&'e Element, usize),
            Text(&'e str),
            End(String),
        }
        let mut stack = vec![Step::Start(el, 0)];
        while let Some(step) = stack.pop() {
            match step {
                Step::Text(t) => escape(t, &mut self.out),
                Step::End(tag) => {
                    self.out.push_str("</");
                    self.out.push_str(&tag);
                    self.out.push('>');
                }
                Step::Start(e, depth) => {
                    let tag = self.start(e, depth);
                    if e.children.is_empty() {
                        self.out.push_str("/>");
                        continue;
                    }
                    self.out.push('>');
                    stack.push(Step::End(tag));
                    for child in e.children.iter().rev() {
                        stack.push(match child {
                            Node::Element(c) => Step::Start(c, depth + 1),
                            Node::Text(t) => Step::Text(t),
                        });
                    }
                }
            }
        }
        self
    }

    /// Writes `<tag attrs` (without the closing `>`); returns the tag.
    fn start(&mut self, e: &Element, depth: usize) -> String {
        let (tag, decl) = if e.name.ns.is_empty() {
            (e.name.local.clone(), " xmlns=\"\"".to_string())
        } else if e.name.ns == DAV {
            (format!("D:{}", e.name.local), String::new())
        } else {
            let p = format!("n{depth}");
            let mut d = format!(" xmlns:{p}=\"");
            escape_attr(&e.name.ns, &mut d);
            d.push('"');
            (format!("{p}:{}", e.name.local), d)
        };
        self.out.push('<');
        self.out.push_str(&tag);
        self.out.push_str(&decl);
        for (i, (n, v)) in e.attrs.iter().enumerate() {
            self.out.push(' ');
            if n.ns.is_empty() {
                self.out.push_str(&n.local);
            } else if n.ns == XML_NS {
                self.out.push_str("xml:");
                self.out.push_str(&n.local);
            } else {
                let p = format!("a{depth}x{i}");
                self.out.push_str(&format!("xmlns:{p}=\""));
                escape_attr(&n.ns, &mut self.out);
                self.out.push_str(&format!("\" {p}:{}", n.local));
            }
            self.out.push_str("=\"");
            escape_attr(v, &mut self.out);
            self.out.push('"');
        }
        tag
    }

    /// Ends the document started by [`Writer::document`].
    pub fn finish(mut self, local: &str) -> String {
        self.close(local);
        self.out.push('\n');
        self.out
    }

    /// What was written so far, taken out.
    pub fn take(&mut self) -> String {
        std::mem::take(&mut self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Element, XmlError> {
        parse(s.as_bytes())
    }

    #[test]
    fn namespaces_resolve_by_scope() {
        let doc = p(r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop xmlns="urn:x"><a/><D:getetag/><b xmlns=""/><q:c xmlns:q="urn:q" q:at="1" plain="2"/></D:prop></D:propfind>"#).unwrap();
        assert_eq!(doc.name, Name::new(DAV, "propfind"));
        let prop = doc.dav_child("prop").unwrap();
        let names: Vec<Name> = prop.elements().map(|e| e.name.clone()).collect();
        assert_eq!(
            names,
            [Name::new("urn:x", "a"), Name::new(DAV, "getetag"), Name::new("", "b"), Name::new("urn:q", "c")]
        );
        let c = prop.elements().nth(3).unwrap();
        assert_eq!(c.attrs, [(Name::new("urn:q", "at"), "1".to_string()), (Name::new("", "plain"), "2".to_string())]);
    }

    #[test]
    fn references_predefined_and_numeric_only() {
        let doc = p("<a>&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#x10000;<![CDATA[<&>]]></a>").unwrap();
        assert_eq!(doc.text(), "<>&'\"AB\u{10000}<&>");
        for bad in
            ["<a>&foo;</a>", "<a>&#0;</a>", "<a>&#xD800;</a>", "<a>& </a>", "<a>&#;</a>", "<a>&#x;</a>", "<a>&#-1;</a>"]
        {
            assert!(matches!(p(bad), Err(XmlError::Malformed(_))), "{bad}");
        }
    }

    #[test]
    fn doctype_refused_anywhere() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>"#;
        assert_eq!(p(bomb), Err(XmlError::Doctype));
        let external = r#"<!DOCTYPE foo SYSTEM "file:///etc/passwd"><foo/>"#;
        assert_eq!(p(external), Err(XmlError::Doctype));
        assert_eq!(p("<a><!DOCTYPE x></a>"), Err(XmlError::Doctype));
        assert!(p("<a><!ENTITY x 'y'></a>").is_err());
    }

    #[test]
    fn depth_and_size_bounded() {
        let deep = |n: usize| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
        assert!(p(&deep(MAX_DEPTH)).is_ok());
        assert_eq!(p(&deep(MAX_DEPTH + 1)), Err(XmlError::TooDeep));
        // 140,000 levels: refused at level 33, no stack overflow.
        assert_eq!(p(&deep(140_000)), Err(XmlError::TooDeep));
        assert_eq!(p(&deep(200_000)), Err(XmlError::TooLarge));
        assert_eq!(parse_limited(deep(100_000).as_bytes(), usize::MAX, MAX_DEPTH), Err(XmlError::TooDeep));
        let big = format!("<a>{}</a>", "x".repeat(MAX_BODY));
        assert_eq!(p(&big), Err(XmlError::TooLarge));
    }

    #[test]
    fn malformed_refused() {
        for bad in [
            "",
            "text",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "<a/>trailing",
            "<p:a/>",
            "<a p:x='1'/>",
            "<a x='1' x='2'/>",
            "<a xmlns:p='u' xmlns:q='u' p:x='1' q:x='2'/>",
            "<a x=1/>",
            "<a x='<'/>",
            "<a>]]></a>",
            "<a><!-- a -- b --></a>",
            "<a>\u{1}</a>",
            "<a:b:c/>",
            "<1a/>",
            "<a xmlns:p=''/>",
            "<a xmlns:xmlns='u'/>",
        ] {
            assert!(p(bad).is_err(), "accepted {bad:?}");
        }
        assert!(parse(b"<a>\xff</a>").is_err());
    }

    #[test]
    fn comments_pis_bom_whitespace() {
        let doc = p("\u{feff}<?xml version='1.0' encoding='utf-8'?>\n<!-- c --><a><?pi x?><!-- in --><b/></a>\n<!-- after -->\n").unwrap();
        assert_eq!(doc.elements().count(), 1);
    }

    #[test]
    fn writer_round_trips_foreign_namespaces() {
        let src = r#"<x:prop xmlns:x="urn:a&amp;b" xmlns:y="urn:y" y:at="v&quot;1"><inner xmlns="">t &lt; u</inner><D:href xmlns:D="DAV:">h</D:href><z xmlns="urn:z">&#x10348;<y:w/></z></x:prop>"#;
        let el = p(src).unwrap();
        let mut w = Writer::fragment();
        w.raw("<D:wrap xmlns:D=\"DAV:\">").element(&el).raw("</D:wrap>");
        let out = w.take();
        let back = p(&out).unwrap();
        assert_eq!(back.elements().next().unwrap(), &el, "{out}");
    }

    #[test]
    fn writer_is_not_recursive() {
        let mut el = Element::new(Name::new("urn:a", "leaf"));
        for _ in 0..100_000 {
            let mut parent = Element::new(Name::new("urn:a", "n"));
            parent.children.push(Node::Element(el));
            el = parent;
        }
        let mut w = Writer::fragment();
        w.element(&el);
        assert!(w.take().len() > 100_000);
        // Dropping such a tree would recurse; the reader never builds one.
        std::mem::forget(el);
    }

    #[test]
    fn document_writer_escapes() {
        let mut w = Writer::document("multistatus");
        w.open("response").text_element("href", "/dav/a&b<c>").close("response");
        let out = w.finish("multistatus");
        let doc = p(&out).unwrap();
        assert_eq!(doc.dav_child("response").unwrap().dav_child("href").unwrap().text(), "/dav/a&b<c>");
    }
}
