//! Text from AWS made safe where sparkhub prints it: on a terminal, and as a
//! word of a shell command a person copies.

use std::borrow::Cow;
use std::fmt::Write;

/// Characters a terminal acts on instead of showing: C0 controls, DEL, C1
/// controls, and the bidirectional controls that reorder what follows
/// (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069).
pub(crate) fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every character a terminal would act on (see above) written
/// as a visible escape: `\r`, `\n`, `\t`, and `\u{1b}`, `\u{202e}` for the
/// others. Everything else, other scripts included, is unchanged; text
/// without such characters is borrowed as is.
///
/// Every string from AWS that the CLI prints to a terminal (cluster names,
/// tags, state-change reasons, profile names) goes through this.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts_on_terminal) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if acts_on_terminal(c) => {
                write!(out, "\\u{{{:x}}}", c as u32).expect("writing to a String");
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `word` as one word of a POSIX shell command: unchanged when it has only
/// characters no shell treats specially (`A-Za-z0-9` and `_@%+=:,./-`),
/// otherwise in single quotes (a quote inside as `'\''`). Pasted into bash,
/// sh or zsh, it is one argument with exactly these characters.
pub fn shell_word(word: &str) -> Cow<'_, str> {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
    if plain {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_makes_every_terminal_control_visible() {
        let cases: &[(&str, &str)] = &[
            ("sparkhub-tutorial", "sparkhub-tutorial"),
            ("Bäckerei 東京 ünïcode", "Bäckerei 東京 ünïcode"),
            ("a\rb", "a\\rb"),
            ("line\nnext\ttab", "line\\nnext\\ttab"),
            ("\u{1b}[31mred\u{1b}[0m", "\\u{1b}[31mred\\u{1b}[0m"),
            ("del\u{7f}", "del\\u{7f}"),
            ("c1\u{9b}31m", "c1\\u{9b}31m"),
            ("abc\u{202e}fed", "abc\\u{202e}fed"),
            (
                "\u{061c}\u{200e}\u{200f}\u{202a}\u{2066}\u{2069}",
                "\\u{61c}\\u{200e}\\u{200f}\\u{202a}\\u{2066}\\u{2069}",
            ),
            ("back\\slash", "back\\slash"),
        ];
        for (text, shown) in cases {
            assert_eq!(printable(text), *shown, "{text:?}");
            assert!(!printable(text).chars().any(acts_on_terminal), "{text:?}");
        }
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn shell_word_is_one_word_whatever_it_holds() {
        let cases: &[(&str, &str)] = &[
            ("team-key.pem", "team-key.pem"),
            (
                "hadoop@ec2-1-2-3-4.compute.amazonaws.com",
                "hadoop@ec2-1-2-3-4.compute.amazonaws.com",
            ),
            ("10501:localhost:9443", "10501:localhost:9443"),
            ("k; touch x #.pem", "'k; touch x #.pem'"),
            ("it's", r"'it'\''s'"),
            ("$(id)`id`", "'$(id)`id`'"),
            ("", "''"),
        ];
        for (word, quoted) in cases {
            assert_eq!(shell_word(word), *quoted, "{word:?}");
        }
    }
}
