//! Patterns for rule fields (SPEC §2): a small regular-expression language matched
//! against the *whole* value, e.g. month `0[3-6]` matches "03".."06" but not "13".
//!
//! Supported: literals, `.` (any character), classes `[0-9]` / `[^5]`, `\d`, escapes
//! (`\.`), groups `( )` and `(?: )`, alternation `|`, and the repeats `?`, `*`, `+`,
//! `{n}`, `{n,}`, `{n,m}`. As the hosted-PBX manuals write it, a pattern that is empty or
//! a single `.` matches any value, whatever its length.
//!
//! Patterns and values are ASCII (digits, '+', letters): a pattern with another character
//! is refused, and a value is compared byte by byte.
//!
//! Matching walks a parsed tree with backtracking; the values matched here are a few
//! characters long, so that is faster than compiling an automaton per decision. Repeats
//! are bounded by [`MAX_REPEAT`] and patterns by [`MAX_PATTERN_LEN`] so no pattern can
//! make matching expensive.

use std::fmt;

/// Longest pattern accepted, in characters.
pub const MAX_PATTERN_LEN: usize = 256;
/// Largest `n` or `m` accepted in `{n,m}`.
pub const MAX_REPEAT: u32 = 64;

/// A parsed pattern, ready to match many values.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    root: Option<Node>,
}

/// Why a pattern could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// Character offset of the problem in the pattern.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at character {}", self.message, self.position + 1)
    }
}

impl std::error::Error for PatternError {}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Literal(u8),
    Any,
    Class { ranges: Vec<(u8, u8)>, negated: bool },
    Concat(Vec<Node>),
    Alternation(Vec<Node>),
    Repeat { node: Box<Node>, min: u32, max: Option<u32> },
}

impl Pattern {
    /// Parse `source`. A pattern that is empty or `.` matches everything.
    pub fn parse(source: &str) -> Result<Pattern, PatternError> {
        let trimmed = source.trim();
        if trimmed.is_empty() || trimmed == "." {
            return Ok(Pattern { root: None });
        }
        if let Some(position) = trimmed.bytes().position(|b| !b.is_ascii()) {
            return Err(PatternError { position, message: "only ASCII characters are supported".into() });
        }
        let chars = trimmed.as_bytes();
        if chars.len() > MAX_PATTERN_LEN {
            return Err(PatternError {
                position: MAX_PATTERN_LEN,
                message: format!("pattern longer than {MAX_PATTERN_LEN} characters"),
            });
        }
        let mut parser = Parser { chars, pos: 0 };
        let root = parser.alternation()?;
        if parser.pos < chars.len() {
            return Err(parser.error("unmatched ')'"));
        }
        Ok(Pattern { root: Some(root) })
    }

    /// Whether the pattern matches the whole of `value`.
    pub fn matches(&self, value: &str) -> bool {
        match &self.root {
            None => true,
            Some(root) => {
                let input = value.as_bytes();
                match_node(root, input, 0, &mut |end| end == input.len())
            }
        }
    }

    /// Whether the pattern matches every value (empty or `.`).
    pub fn is_any(&self) -> bool {
        self.root.is_none()
    }
}

/// Parse `pattern` and match it against the whole of `value`.
pub fn matches(pattern: &str, value: &str) -> Result<bool, PatternError> {
    Ok(Pattern::parse(pattern)?.matches(value))
}

struct Parser<'a> {
    chars: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> PatternError {
        PatternError { position: self.pos, message: message.to_string() }
    }

    fn peek(&self) -> Option<u8> {
        self.chars.get(self.pos).copied()
    }

    fn alternation(&mut self) -> Result<Node, PatternError> {
        let mut branches = vec![self.concat()?];
        while self.peek() == Some(b'|') {
            self.pos += 1;
            branches.push(self.concat()?);
        }
        Ok(if branches.len() == 1 { branches.remove(0) } else { Node::Alternation(branches) })
    }

    fn concat(&mut self) -> Result<Node, PatternError> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == b'|' || c == b')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.repeat(atom)?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Node::Concat(items) })
    }

    fn atom(&mut self) -> Result<Node, PatternError> {
        // The caller checked there is a character.
        let c = self.chars[self.pos];
        self.pos += 1;
        match c {
            b'.' => Ok(Node::Any),
            b'[' => self.class(),
            b'(' => {
                if self.chars[self.pos..].starts_with(b"?:") {
                    self.pos += 2;
                }
                let inner = self.alternation()?;
                if self.peek() != Some(b')') {
                    return Err(self.error("missing ')'"));
                }
                self.pos += 1;
                Ok(inner)
            }
            b'\\' => self.escape(),
            b'*' | b'+' | b'?' | b'{' => {
                self.pos -= 1;
                Err(self.error(&format!("'{}' has nothing to repeat", c as char)))
            }
            b'^' | b'$' => {
                self.pos -= 1;
                Err(self.error("anchors are implied: the pattern always matches the whole value"))
            }
            other => Ok(Node::Literal(other)),
        }
    }

    fn escape(&mut self) -> Result<Node, PatternError> {
        let Some(c) = self.peek() else {
            return Err(self.error("pattern ends with '\\'"));
        };
        self.pos += 1;
        Ok(match c {
            b'd' => Node::Class { ranges: vec![(b'0', b'9')], negated: false },
            b'D' => Node::Class { ranges: vec![(b'0', b'9')], negated: true },
            c if c.is_ascii_alphanumeric() => {
                self.pos -= 1;
                return Err(self.error(&format!("unsupported escape '\\{}'", c as char)));
            }
            c => Node::Literal(c),
        })
    }

    fn class(&mut self) -> Result<Node, PatternError> {
        let start = self.pos - 1;
        let negated = self.peek() == Some(b'^');
        if negated {
            self.pos += 1;
        }
        let mut ranges = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(PatternError { position: start, message: "missing ']'".into() });
            };
            self.pos += 1;
            if c == b']' && !ranges.is_empty() {
                break;
            }
            let low = if c == b'\\' { self.class_escape()? } else { c };
            let is_range =
                self.peek() == Some(b'-') && self.chars.get(self.pos + 1).is_some_and(|&n| n != b']');
            if is_range {
                self.pos += 1;
                let high_char = self.chars[self.pos];
                self.pos += 1;
                let high = if high_char == b'\\' { self.class_escape()? } else { high_char };
                if high < low {
                    return Err(self.error(&format!("range '{}-{}' is reversed", low as char, high as char)));
                }
                ranges.push((low, high));
            } else {
                ranges.push((low, low));
            }
        }
        Ok(Node::Class { ranges, negated })
    }

    fn class_escape(&mut self) -> Result<u8, PatternError> {
        let Some(c) = self.peek() else {
            return Err(self.error("pattern ends with '\\'"));
        };
        self.pos += 1;
        Ok(c)
    }

    fn repeat(&mut self, atom: Node) -> Result<Node, PatternError> {
        let (min, max) = match self.peek() {
            Some(b'?') => (0, Some(1)),
            Some(b'*') => (0, None),
            Some(b'+') => (1, None),
            Some(b'{') => return self.counted(atom),
            _ => return Ok(atom),
        };
        self.pos += 1;
        if matches!(self.peek(), Some(b'?' | b'*' | b'+')) {
            return Err(self.error("repeat of a repeat"));
        }
        Ok(Node::Repeat { node: Box::new(atom), min, max })
    }

    fn counted(&mut self, atom: Node) -> Result<Node, PatternError> {
        self.pos += 1; // '{'
        let min = self.number()?.ok_or_else(|| self.error("expected a number after '{'"))?;
        let max = if self.peek() == Some(b',') {
            self.pos += 1;
            self.number()?
        } else {
            Some(min)
        };
        if self.peek() != Some(b'}') {
            return Err(self.error("missing '}'"));
        }
        self.pos += 1;
        if max.is_some_and(|max| max < min) {
            return Err(self.error("repeat maximum below its minimum"));
        }
        Ok(Node::Repeat { node: Box::new(atom), min, max })
    }

    fn number(&mut self) -> Result<Option<u32>, PatternError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if start == self.pos {
            return Ok(None);
        }
        // Only ASCII digits were consumed above.
        let digits = std::str::from_utf8(&self.chars[start..self.pos]).unwrap_or("");
        match digits.parse::<u32>() {
            Ok(n) if n <= MAX_REPEAT => Ok(Some(n)),
            _ => Err(PatternError { position: start, message: format!("repeat count above {MAX_REPEAT}") }),
        }
    }
}

/// Match `node` at `pos`; `next` is called with every end position the node can reach and
/// decides whether the rest of the pattern matches from there.
fn match_node(node: &Node, input: &[u8], pos: usize, next: &mut dyn FnMut(usize) -> bool) -> bool {
    match node {
        Node::Literal(c) => input.get(pos) == Some(c) && next(pos + 1),
        Node::Any => pos < input.len() && next(pos + 1),
        Node::Class { ranges, negated } => {
            input.get(pos).is_some_and(|&c| {
                let inside = ranges.iter().any(|&(low, high)| low <= c && c <= high);
                inside != *negated
            }) && next(pos + 1)
        }
        Node::Concat(items) => match_sequence(items, input, pos, next),
        Node::Alternation(branches) => branches.iter().any(|branch| match_node(branch, input, pos, next)),
        Node::Repeat { node, min, max } => match_repeat(node, *min, *max, 0, input, pos, next),
    }
}

fn match_sequence(items: &[Node], input: &[u8], pos: usize, next: &mut dyn FnMut(usize) -> bool) -> bool {
    match items.split_first() {
        None => next(pos),
        Some((first, rest)) => {
            match_node(first, input, pos, &mut |end| match_sequence(rest, input, end, next))
        }
    }
}

/// Greedy repeat: try one more occurrence first, then stop. An occurrence that consumes
/// nothing ends the loop, so `(a*)*` cannot spin.
fn match_repeat(
    node: &Node,
    min: u32,
    max: Option<u32>,
    count: u32,
    input: &[u8],
    pos: usize,
    next: &mut dyn FnMut(usize) -> bool,
) -> bool {
    if max.is_none_or(|max| count < max)
        && match_node(node, input, pos, &mut |end| {
            end > pos && match_repeat(node, min, max, count + 1, input, end, next)
        })
    {
        return true;
    }
    count >= min && next(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, yes: &[&str], no: &[&str]) {
        let parsed = Pattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        for value in yes {
            assert!(parsed.matches(value), "{pattern} should match {value}");
        }
        for value in no {
            assert!(!parsed.matches(value), "{pattern} should not match {value}");
        }
    }

    #[test]
    fn spec_examples_match_whole_zero_padded_values() {
        check(".", &["2021", "03", "7", ""], &[]);
        check("", &["2021", "03"], &[]);
        check("2021", &["2021"], &["2022", "20211", "021"]);
        check("202[1-5]", &["2021", "2023", "2025"], &["2020", "2026", "202"]);
        check("2021|2025", &["2021", "2025"], &["2023", "20212025"]);
        check("0[3-6]", &["03", "04", "06"], &["02", "07", "13", "3"]);
        check("(03|06)", &["03", "06"], &["04", "0306"]);
        check("0[5-9]|1[0-9]|2[0-5]", &["05", "09", "10", "19", "20", "25"], &["04", "26", "31", "5"]);
        check("[2-5]", &["2", "3", "5"], &["1", "6", "25"]);
    }

    #[test]
    fn classes_escapes_and_repeats() {
        check("[^6-7]", &["1", "5"], &["6", "7"]);
        check("\\d{4}", &["2026"], &["202", "20a6"]);
        check("34\\d*", &["34", "34911"], &["35911"]);
        check("6.+", &["600", "61"], &["6"]);
        check("(?:00|\\+)44.*", &["0044161", "+44161"], &["44161"]);
        check("a{2,3}", &["aa", "aaa"], &["a", "aaaa"]);
        check("(a*)*b", &["b", "aaab"], &["aaa"]);
    }

    #[test]
    fn malformed_patterns_say_what_is_wrong() {
        for (pattern, message) in [
            ("0[3-6", "missing ']'"),
            ("(03|06", "missing ')'"),
            ("03)", "unmatched ')'"),
            ("*3", "nothing to repeat"),
            ("[6-3]", "reversed"),
            ("^03$", "anchors are implied"),
            ("\\w", "unsupported escape"),
            ("1{99}", "repeat count above"),
            ("0[3-6]é", "only ASCII"),
        ] {
            let error = Pattern::parse(pattern).expect_err(pattern);
            assert!(error.message.contains(message), "{pattern}: {error}");
        }
    }
}
