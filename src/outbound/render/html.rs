//! Plain text into HTML: escaped, paragraphs and line breaks kept, web addresses linked.

use std::fmt;

/// Escapes `& < > " '` (not `/`), copying unescaped runs in one piece.
pub(super) fn escape_html<W: fmt::Write + ?Sized>(s: &str, out: &mut W) -> fmt::Result {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#x27;",
            _ => continue,
        };
        out.write_str(&s[start..i])?;
        out.write_str(rep)?;
        start = i + 1;
    }
    out.write_str(&s[start..])
}

pub(super) fn push_escaped(s: &str, out: &mut String) {
    // Writing to a String cannot fail.
    let _ = escape_html(s, out);
}

/// Escapes one line and turns http(s) URLs into links (trailing punctuation stays outside).
pub(super) fn line_html(line: &str, out: &mut String) {
    let mut rest = line;
    while let Some(pos) = rest.find("https://").or_else(|| rest.find("http://")) {
        let (before, from_url) = rest.split_at(pos);
        push_escaped(before, out);
        let end = from_url
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
            .unwrap_or(from_url.len());
        let url = from_url[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'']);
        out.push_str("<a href=\"");
        push_escaped(url, out);
        out.push_str("\">");
        push_escaped(url, out);
        out.push_str("</a>");
        rest = &from_url[url.len()..];
    }
    push_escaped(rest, out);
}

/// Plain text to HTML: escaped, blank lines separate `<p>`s, single line breaks become `<br>`.
pub fn paragraphs_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let normalized = text.replace("\r\n", "\n");
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, out: &mut String| {
        if para.is_empty() {
            return;
        }
        out.push_str("<p style=\"margin:0 0 16px;\">");
        for (i, line) in para.iter().enumerate() {
            if i > 0 {
                out.push_str("<br>\n");
            }
            line_html(line, out);
        }
        out.push_str("</p>\n");
        para.clear();
    };
    for line in normalized.lines() {
        if line.trim().is_empty() {
            flush(&mut para, &mut out);
        } else {
            para.push(line.trim_end());
        }
    }
    flush(&mut para, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_links() {
        assert_eq!(
            paragraphs_html("a <b>\nzwei\n\n\n drei https://x.org/a?b=1&c=2.\r\n"),
            "<p style=\"margin:0 0 16px;\">a &lt;b&gt;<br>\nzwei</p>\n\
             <p style=\"margin:0 0 16px;\"> drei <a href=\"https://x.org/a?b=1&amp;c=2\">\
             https://x.org/a?b=1&amp;c=2</a>.</p>\n"
        );
        assert_eq!(paragraphs_html(""), "");
        assert_eq!(
            paragraphs_html("see http://a.b\" onclick=x"),
            "<p style=\"margin:0 0 16px;\">see <a href=\"http://a.b\">http://a.b</a>&quot; onclick=x</p>\n"
        );
    }
}
