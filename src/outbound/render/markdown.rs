//! A campaign's text in Markdown: headings, emphasis, lists, links, quotes and rules become the
//! mail's HTML, and a clean text part (no `**`, links as "text (address)"). Raw HTML in the
//! text is shown as typed, never passed through; only web, mail and phone links are made
//! links, and images become links (a mail does not load pictures from elsewhere).
//!
//! A text that uses none of this (only paragraphs and line breaks) is not Markdown: it renders
//! exactly as plain text always did ([`super::html::paragraphs_html`], the text part as typed),
//! so texts written before keep their look.

use super::html::{line_html, push_escaped};
use pulldown_cmark::{CowStr, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};

fn parser(text: &str) -> Parser<'_> {
    Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH)
}

/// Whether `text` uses Markdown beyond paragraphs and line breaks (raw HTML does not count: it
/// is shown as typed either way).
pub fn is_markdown(text: &str) -> bool {
    parser(text).any(|e| {
        !matches!(
            e,
            Event::Start(Tag::Paragraph)
                | Event::End(TagEnd::Paragraph)
                | Event::Text(_)
                | Event::SoftBreak
                | Event::HardBreak
                | Event::Html(_)
                | Event::InlineHtml(_)
                | Event::Start(Tag::HtmlBlock)
                | Event::End(TagEnd::HtmlBlock)
        )
    })
}

/// Only these links are made links; anything else (`javascript:`, `data:`) stays text.
fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    ["https://", "http://", "mailto:", "tel:"]
        .iter()
        .any(|s| lower.starts_with(s))
}

fn heading_size(level: HeadingLevel) -> &'static str {
    match level {
        HeadingLevel::H1 => "22px",
        HeadingLevel::H2 => "19px",
        _ => "17px",
    }
}

/// Markdown to the mail's HTML (inline styles, as mail clients drop style sheets).
pub fn to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 5 / 4 + 64);
    // Inside a link no address is linked again; a link that is not made keeps its text.
    let mut in_link = 0usize;
    let mut links: Vec<bool> = Vec::new();
    for e in parser(text) {
        match e {
            Event::Start(tag) => match tag {
                Tag::Paragraph => out.push_str("<p style=\"margin:0 0 16px;\">"),
                Tag::Heading { level, .. } => {
                    out.push_str(&format!(
                        "<{level} style=\"margin:0 0 12px;font-size:{};\">",
                        heading_size(level)
                    ));
                }
                Tag::BlockQuote(_) => out.push_str(
                    "<blockquote style=\"margin:0 0 16px;padding-left:12px;border-left:3px solid #ccc;\">",
                ),
                Tag::CodeBlock(_) => out.push_str("<pre style=\"margin:0 0 16px;white-space:pre-wrap;\">"),
                Tag::List(Some(1)) => out.push_str("<ol style=\"margin:0 0 16px;\">"),
                Tag::List(Some(n)) => out.push_str(&format!("<ol start=\"{n}\" style=\"margin:0 0 16px;\">")),
                Tag::List(None) => out.push_str("<ul style=\"margin:0 0 16px;\">"),
                Tag::Item => out.push_str("<li>"),
                Tag::Emphasis => out.push_str("<em>"),
                Tag::Strong => out.push_str("<strong>"),
                Tag::Strikethrough => out.push_str("<s>"),
                Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                    let made = safe_url(&dest_url);
                    if made {
                        out.push_str("<a href=\"");
                        push_escaped(dest_url.trim(), &mut out);
                        out.push_str("\">");
                    }
                    links.push(made);
                    in_link += 1;
                }
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Paragraph => out.push_str("</p>\n"),
                TagEnd::Heading(level) => out.push_str(&format!("</{level}>\n")),
                TagEnd::BlockQuote(_) => out.push_str("</blockquote>\n"),
                TagEnd::CodeBlock => out.push_str("</pre>\n"),
                TagEnd::List(true) => out.push_str("</ol>\n"),
                TagEnd::List(false) => out.push_str("</ul>\n"),
                TagEnd::Item => out.push_str("</li>\n"),
                TagEnd::Emphasis => out.push_str("</em>"),
                TagEnd::Strong => out.push_str("</strong>"),
                TagEnd::Strikethrough => out.push_str("</s>"),
                TagEnd::Link | TagEnd::Image => {
                    in_link = in_link.saturating_sub(1);
                    if links.pop() == Some(true) {
                        out.push_str("</a>");
                    }
                }
                _ => {}
            },
            Event::Text(t) => {
                if in_link > 0 {
                    push_escaped(&t, &mut out);
                } else {
                    line_html(&t, &mut out);
                }
            }
            Event::Code(t) => {
                out.push_str("<code>");
                push_escaped(&t, &mut out);
                out.push_str("</code>");
            }
            // Raw HTML is shown as typed.
            Event::Html(t) | Event::InlineHtml(t) => push_escaped(&t, &mut out),
            // A line break in the text is one in the mail, as in plain text.
            Event::SoftBreak | Event::HardBreak => out.push_str("<br>\n"),
            Event::Rule => out.push_str("<hr style=\"border:0;border-top:1px solid #ccc;margin:0 0 16px;\">\n"),
            _ => {}
        }
    }
    out
}

/// Markdown to clean text for the mail's text part: the words, lists with "-" or numbers,
/// links as "text (address)", paragraphs separated by a blank line.
pub fn to_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Per open list: the next number (None: bullets).
    let mut lists: Vec<Option<u64>> = Vec::new();
    // Per open link: its address and where its text began.
    let mut links: Vec<(CowStr<'_>, usize, LinkType)> = Vec::new();
    let mut quote = 0usize;
    let blank = |out: &mut String| {
        let trimmed = out.trim_end_matches([' ', '\n']).len();
        out.truncate(trimmed);
        if !out.is_empty() {
            out.push_str("\n\n");
        }
    };
    let line_start = |out: &mut String, quote: usize| {
        for _ in 0..quote {
            out.push_str("> ");
        }
    };
    for e in parser(text) {
        match e {
            Event::Start(tag) => match tag {
                Tag::Paragraph | Tag::Heading { .. } | Tag::CodeBlock(_) if lists.is_empty() => {
                    blank(&mut out);
                    line_start(&mut out, quote);
                }
                Tag::BlockQuote(_) => {
                    blank(&mut out);
                    quote += 1;
                }
                Tag::List(start) => {
                    if lists.is_empty() {
                        blank(&mut out);
                    }
                    lists.push(start);
                }
                Tag::Item => {
                    let trimmed = out.trim_end_matches(' ').len();
                    out.truncate(trimmed);
                    if !out.is_empty() && !out.ends_with('\n') {
                        out.push('\n');
                    }
                    line_start(&mut out, quote);
                    out.push_str(&"  ".repeat(lists.len().saturating_sub(1)));
                    match lists.last_mut() {
                        Some(Some(n)) => {
                            out.push_str(&format!("{n}. "));
                            *n += 1;
                        }
                        _ => out.push_str("- "),
                    }
                }
                Tag::Link {
                    dest_url,
                    link_type,
                    ..
                }
                | Tag::Image {
                    dest_url,
                    link_type,
                    ..
                } => links.push((dest_url, out.len(), link_type)),
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::CodeBlock => {
                    if lists.is_empty() {
                        out.push_str("\n\n");
                    } else {
                        out.push(' ');
                    }
                }
                TagEnd::BlockQuote(_) => {
                    quote = quote.saturating_sub(1);
                    blank(&mut out);
                }
                TagEnd::List(_) => {
                    lists.pop();
                    if lists.is_empty() {
                        blank(&mut out);
                    }
                }
                TagEnd::Link | TagEnd::Image => {
                    if let Some((url, from, kind)) = links.pop() {
                        let shown = out[from..].trim().to_string();
                        let bare = url.trim().trim_start_matches("mailto:");
                        if !matches!(kind, LinkType::Autolink | LinkType::Email) && shown != bare {
                            out.push_str(&format!(" ({})", url.trim()));
                        }
                    }
                }
                _ => {}
            },
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                out.push_str(&t);
            }
            Event::SoftBreak | Event::HardBreak => {
                out.push('\n');
                line_start(&mut out, quote);
            }
            Event::Rule => {
                blank(&mut out);
                out.push_str("----------\n\n");
            }
            _ => {}
        }
    }
    let end = out.trim_end().len();
    out.truncate(end);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_not_markdown() {
        for plain in [
            "Liebe Nachbarn,\n\nam Freitag ist Café.\nBis dann!",
            "Kosten: 5 * 3 Euro, Treffpunkt <Hof>.",
            "Mehr unter https://example.org/a_b_c.",
            "",
        ] {
            assert!(!is_markdown(plain), "{plain}");
        }
        for md in [
            "**Wichtig**: Freitag",
            "# Einladung",
            "- Kuchen\n- Kaffee",
            "[Anmeldung](https://example.org)",
            "> zitiert",
        ] {
            assert!(is_markdown(md), "{md}");
        }
    }

    #[test]
    fn markdown_becomes_html_with_raw_html_escaped() {
        let html = to_html(
            "# Café am Freitag\n\nEs gibt **Kuchen** und *Kaffee*.\nBis dann!\n\n\
             - eins\n- zwei\n\n[Anmelden](https://example.org/a?b=1&c=2) oder \
             [böse](javascript:alert(1))\n\n<script>alert(1)</script>\n\nSiehe https://x.org.",
        );
        assert!(
            html.contains("<h1 style=\"margin:0 0 12px;font-size:22px;\">Café am Freitag</h1>"),
            "{html}"
        );
        assert!(
            html.contains("Es gibt <strong>Kuchen</strong> und <em>Kaffee</em>.<br>\nBis dann!"),
            "{html}"
        );
        assert!(html.contains("<li>eins</li>"), "{html}");
        assert!(
            html.contains("<a href=\"https://example.org/a?b=1&amp;c=2\">Anmelden</a>"),
            "{html}"
        );
        assert!(!html.contains("javascript"), "{html}");
        assert!(html.contains("böse"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(
            html.contains("<a href=\"https://x.org\">https://x.org</a>."),
            "{html}"
        );
    }

    #[test]
    fn markdown_becomes_clean_text() {
        let text = to_text(
            "# Café am Freitag\n\nEs gibt **Kuchen** und *Kaffee*.\nBis dann!\n\n\
             - eins\n- zwei\n\n1. erstens\n2. zweitens\n\n\
             [Anmelden](https://example.org/a) oder <https://example.org/b>\n\n> Zitat\n\n---\n\nEnde",
        );
        assert_eq!(
            text,
            "Café am Freitag\n\nEs gibt Kuchen und Kaffee.\nBis dann!\n\n- eins\n- zwei\n\n\
             1. erstens\n2. zweitens\n\nAnmelden (https://example.org/a) oder \
             https://example.org/b\n\n> Zitat\n\n----------\n\nEnde"
        );
    }
}
