//! Calico's selector language, parsed into [`LabelExpr`].
//!
//! The grammar and its quirks follow Calico's documentation ("Calico policy" →
//! "Selectors", docs.tigera.io/calico/latest/reference/resources/networkpolicy#selectors)
//! and the tokenizer and parser of libcalico-go (`lib/selector/tokenizer`,
//! `lib/selector/parser`), which decide what the API server accepts:
//!
//! ```text
//! expr      := and ('||' and)*
//! and       := operation ('&&' operation)*
//! operation := '!'* ( 'has(' key ')' | 'all()' | 'global()' | '(' expr ')'
//!                   | key ('==' | '!=' | 'contains' | 'starts with' | 'ends with') string
//!                   | key ('in' | 'not in') '{' [string (',' string)* [',']] '}' )
//! key       := [A-Za-z0-9_./-]+
//! string    := '"' [^"]* '"' | "'" [^']* "'"      (no escapes)
//! ```
//!
//! - Precedence: `!` binds tightest, then `&&`, then `||`; leading `!`s collapse (`!!a`
//!   is `a`).
//! - Whitespace is a space or a tab only (a newline is an error, as in Calico).
//! - `has(`, `all(` and `global(` must be written without a space before `(`; spaces are
//!   allowed inside the parentheses.
//! - After a key, an operator word is recognised by its prefix (`in{'a'}` needs no space).
//! - An empty (or all-blank) selector is `all()`.
//! - `k != 'v'` and `k not in {…}` match when `k` is absent; `contains`, `starts with` and
//!   `ends with` need `k` present.

use std::fmt;

use kubesurface_model::LabelExpr;

/// A selector the API server would reject: the problem and its 1-based column
/// (in characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorError {
    /// 1-based character column of the problem.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for SelectorError {}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Label(String),
    Str(String),
    LBrace,
    RBrace,
    Comma,
    Eq,
    Ne,
    In,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
    Not,
    All,
    Global,
    Has(String),
    LParen,
    RParen,
    And,
    Or,
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Label(l) => format!("label {l:?}"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::LBrace => "'{'".into(),
            Tok::RBrace => "'}'".into(),
            Tok::Comma => "','".into(),
            Tok::Eq => "'=='".into(),
            Tok::Ne => "'!='".into(),
            Tok::In => "'in'".into(),
            Tok::NotIn => "'not in'".into(),
            Tok::Contains => "'contains'".into(),
            Tok::StartsWith => "'starts with'".into(),
            Tok::EndsWith => "'ends with'".into(),
            Tok::Not => "'!'".into(),
            Tok::All => "'all()'".into(),
            Tok::Global => "'global()'".into(),
            Tok::Has(k) => format!("'has({k})'"),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::And => "'&&'".into(),
            Tok::Or => "'||'".into(),
            Tok::Eof => "the end of the selector".into(),
        }
    }
}

/// A token and the byte offset where it starts.
type Spanned = (Tok, usize);

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-')
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn skip_blanks(&mut self) {
        while self.pos < self.src.len() && is_blank(self.src.as_bytes()[self.pos]) {
            self.pos += 1;
        }
    }

    fn err(&self, at: usize, message: impl Into<String>) -> SelectorError {
        SelectorError {
            column: self.src[..at.min(self.src.len())].chars().count() + 1,
            message: message.into(),
        }
    }

    /// A label key at the current position (may be empty).
    fn key(&mut self) -> &'a str {
        let start = self.pos;
        while self.pos < self.src.len() && is_key_byte(self.src.as_bytes()[self.pos]) {
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    /// Consumes `word` if the input continues with it.
    fn eat(&mut self, word: &str) -> bool {
        if self.rest().starts_with(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// `word`, after optional blanks: the second word of `starts with`, `ends with`,
    /// `not in`.
    fn expect_second_word(
        &mut self,
        word: &str,
        first: &str,
        start: usize,
    ) -> Result<(), SelectorError> {
        self.skip_blanks();
        if self.eat(word) {
            Ok(())
        } else {
            Err(self.err(
                start,
                format!("expected '{first} {word}' (an operator after the label)"),
            ))
        }
    }

    /// `(` already consumed by the caller's prefix; blanks then `)`.
    fn close_empty_call(&mut self, name: &str, start: usize) -> Result<(), SelectorError> {
        self.skip_blanks();
        if self.eat(")") {
            Ok(())
        } else {
            Err(self.err(start, format!("expected ')' to close {name}(")))
        }
    }

    fn tokens(mut self) -> Result<Vec<Spanned>, SelectorError> {
        let mut out: Vec<Spanned> = Vec::new();
        loop {
            self.skip_blanks();
            let start = self.pos;
            let Some(&c) = self.src.as_bytes().get(self.pos) else {
                out.push((Tok::Eof, start));
                return Ok(out);
            };
            let after_label = matches!(out.last(), Some((Tok::Label(_), _)));
            let tok = match c {
                b'(' => {
                    self.pos += 1;
                    Tok::LParen
                }
                b')' => {
                    self.pos += 1;
                    Tok::RParen
                }
                b'{' => {
                    self.pos += 1;
                    Tok::LBrace
                }
                b'}' => {
                    self.pos += 1;
                    Tok::RBrace
                }
                b',' => {
                    self.pos += 1;
                    Tok::Comma
                }
                b'"' | b'\'' => {
                    let quote = c as char;
                    let body = &self.src[self.pos + 1..];
                    match body.find(quote) {
                        Some(end) => {
                            self.pos += 1 + end + 1;
                            Tok::Str(body[..end].to_string())
                        }
                        None => return Err(self.err(start, "unterminated string")),
                    }
                }
                b'=' => {
                    if self.eat("==") {
                        Tok::Eq
                    } else {
                        return Err(self.err(start, "expected '==' ('=' alone is not an operator)"));
                    }
                }
                b'!' => {
                    if self.eat("!=") {
                        Tok::Ne
                    } else {
                        self.pos += 1;
                        Tok::Not
                    }
                }
                b'&' => {
                    if self.eat("&&") {
                        Tok::And
                    } else {
                        return Err(self.err(start, "expected '&&'"));
                    }
                }
                b'|' => {
                    if self.eat("||") {
                        Tok::Or
                    } else {
                        return Err(self.err(start, "expected '||'"));
                    }
                }
                _ if after_label => {
                    if self.eat("contains") {
                        Tok::Contains
                    } else if self.eat("starts") {
                        self.expect_second_word("with", "starts", start)?;
                        Tok::StartsWith
                    } else if self.eat("ends") {
                        self.expect_second_word("with", "ends", start)?;
                        Tok::EndsWith
                    } else if self.eat("not") {
                        self.expect_second_word("in", "not", start)?;
                        Tok::NotIn
                    } else if self.eat("in") {
                        Tok::In
                    } else {
                        return Err(self.err(
                            start,
                            "expected an operator after the label (==, !=, in, not in, contains, starts with, ends with)",
                        ));
                    }
                }
                _ => {
                    if self.eat("has(") {
                        self.skip_blanks();
                        let key_at = self.pos;
                        let key = self.key();
                        if key.is_empty() {
                            return Err(self.err(key_at, "expected a label name in has(...)"));
                        }
                        self.skip_blanks();
                        if !self.eat(")") {
                            return Err(self.err(self.pos, "expected ')' to close has("));
                        }
                        Tok::Has(key.to_string())
                    } else if self.eat("all(") {
                        self.close_empty_call("all", start)?;
                        Tok::All
                    } else if self.eat("global(") {
                        self.close_empty_call("global", start)?;
                        Tok::Global
                    } else {
                        let key = self.key();
                        if key.is_empty() {
                            let ch = self.rest().chars().next().unwrap_or(' ');
                            return Err(self.err(start, format!("unexpected character {ch:?}")));
                        }
                        Tok::Label(key.to_string())
                    }
                }
            };
            out.push((tok, start));
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Spanned>,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Spanned {
        // The token list always ends with Eof and parsing never moves past it.
        &self.toks[self.at.min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Spanned {
        let t = self.peek().clone();
        if t.0 != Tok::Eof {
            self.at += 1;
        }
        t
    }

    fn err(&self, at: usize, message: impl Into<String>) -> SelectorError {
        SelectorError {
            column: self.src[..at.min(self.src.len())].chars().count() + 1,
            message: message.into(),
        }
    }

    fn or(&mut self) -> Result<LabelExpr, SelectorError> {
        let mut terms = vec![self.and()?];
        while self.peek().0 == Tok::Or {
            self.bump();
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().unwrap_or(LabelExpr::All)
        } else {
            LabelExpr::Or(terms)
        })
    }

    fn and(&mut self) -> Result<LabelExpr, SelectorError> {
        let mut terms = vec![self.operation()?];
        while self.peek().0 == Tok::And {
            self.bump();
            terms.push(self.operation()?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().unwrap_or(LabelExpr::All)
        } else {
            LabelExpr::And(terms)
        })
    }

    fn string(&mut self, op: &str) -> Result<String, SelectorError> {
        match self.bump() {
            (Tok::Str(s), _) => Ok(s),
            (t, at) => Err(self.err(
                at,
                format!(
                    "expected a quoted string after {op}, found {}",
                    t.describe()
                ),
            )),
        }
    }

    fn set(&mut self, op: &str) -> Result<Vec<String>, SelectorError> {
        match self.bump() {
            (Tok::LBrace, _) => {}
            (t, at) => {
                return Err(self.err(
                    at,
                    format!(
                        "expected a set literal {{...}} after {op}, found {}",
                        t.describe()
                    ),
                ));
            }
        }
        let mut values = Vec::new();
        while let (Tok::Str(s), _) = self.peek().clone() {
            self.bump();
            values.push(s);
            if self.peek().0 == Tok::Comma {
                self.bump();
            } else {
                break;
            }
        }
        match self.bump() {
            (Tok::RBrace, _) => {}
            (t, at) => {
                return Err(self.err(
                    at,
                    format!(
                        "expected a quoted string, ',' or '}}' in the set, found {}",
                        t.describe()
                    ),
                ));
            }
        }
        values.sort();
        values.dedup();
        Ok(values)
    }

    fn operation(&mut self) -> Result<LabelExpr, SelectorError> {
        let mut negated = false;
        while self.peek().0 == Tok::Not {
            self.bump();
            negated = !negated;
        }
        let (tok, at) = self.bump();
        let expr = match tok {
            Tok::Has(k) => LabelExpr::Has(k),
            Tok::All => LabelExpr::All,
            Tok::Global => LabelExpr::Global,
            Tok::LParen => {
                let inner = self.or()?;
                match self.bump() {
                    (Tok::RParen, _) => inner,
                    (t, at2) => {
                        return Err(self.err(
                            at2,
                            format!(
                                "expected ')' (opened at column {}), found {}",
                                self.err(at, "").column,
                                t.describe()
                            ),
                        ));
                    }
                }
            }
            Tok::Label(key) => {
                let (op, op_at) = self.bump();
                match op {
                    Tok::Eq => LabelExpr::Eq(key, self.string("==")?),
                    Tok::Ne => LabelExpr::Ne(key, self.string("!=")?),
                    Tok::Contains => LabelExpr::Contains(key, self.string("contains")?),
                    Tok::StartsWith => LabelExpr::StartsWith(key, self.string("starts with")?),
                    Tok::EndsWith => LabelExpr::EndsWith(key, self.string("ends with")?),
                    Tok::In => LabelExpr::In(key, self.set("in")?),
                    Tok::NotIn => LabelExpr::NotIn(key, self.set("not in")?),
                    other => {
                        return Err(self.err(
                            op_at,
                            format!(
                                "expected an operator after label {key:?} (==, !=, in, not in, contains, starts with, ends with), found {}",
                                other.describe()
                            ),
                        ));
                    }
                }
            }
            other => {
                return Err(self.err(
                    at,
                    format!(
                        "expected a label, has(...), all(), global(), '!' or '(', found {}",
                        other.describe()
                    ),
                ));
            }
        };
        Ok(if negated {
            LabelExpr::Not(Box::new(expr))
        } else {
            expr
        })
    }
}

/// Parses a Calico selector. An empty or blank selector is `all()`.
pub fn parse(selector: &str) -> Result<LabelExpr, SelectorError> {
    let toks = Lexer {
        src: selector,
        pos: 0,
    }
    .tokens()?;
    if toks[0].0 == Tok::Eof {
        return Ok(LabelExpr::All);
    }
    let mut p = Parser {
        src: selector,
        toks,
        at: 0,
    };
    let expr = p.or()?;
    match p.peek() {
        (Tok::Eof, _) => Ok(expr),
        (t, at) => Err(p.err(
            *at,
            format!("unexpected {} after a complete expression", t.describe()),
        )),
    }
}

/// Whether the expression mentions `global()` anywhere.
pub fn mentions_global(e: &LabelExpr) -> bool {
    match e {
        LabelExpr::Global => true,
        LabelExpr::And(xs) | LabelExpr::Or(xs) => xs.iter().any(mentions_global),
        LabelExpr::Not(x) => mentions_global(x),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LabelExpr::*;
    use kubesurface_model::Labels;

    fn s(x: &str) -> String {
        x.to_string()
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (s(k), s(v))).collect()
    }

    fn ok(sel: &str) -> LabelExpr {
        parse(sel).unwrap_or_else(|e| panic!("{sel:?}: {e}"))
    }

    fn err(sel: &str) -> SelectorError {
        parse(sel).expect_err(sel)
    }

    /// Expressions → parsed form. The operators are the ones of the Calico docs'
    /// selector table (docs.tigera.io/calico/latest/reference/resources/networkpolicy#selectors).
    #[test]
    fn parsed_forms() {
        let table: Vec<(&str, LabelExpr)> = vec![
            ("", All),
            ("  \t ", All),
            ("all()", All),
            ("all( )", All),
            ("global()", Global),
            ("k == 'v'", Eq(s("k"), s("v"))),
            ("k == \"v\"", Eq(s("k"), s("v"))),
            ("k=='v'", Eq(s("k"), s("v"))),
            ("k != 'v'", Ne(s("k"), s("v"))),
            ("has(k)", Has(s("k"))),
            ("has( k )", Has(s("k"))),
            ("!has(k)", Not(Box::new(Has(s("k"))))),
            ("!!has(k)", Has(s("k"))),
            ("k in { 'a', 'b' }", In(s("k"), vec![s("a"), s("b")])),
            ("k in {'b','a','b'}", In(s("k"), vec![s("a"), s("b")])),
            ("k in {}", In(s("k"), vec![])),
            ("k in {'a',}", In(s("k"), vec![s("a")])),
            ("k in{'a'}", In(s("k"), vec![s("a")])),
            ("k not in { 'a' }", NotIn(s("k"), vec![s("a")])),
            ("k notin { 'a' }", NotIn(s("k"), vec![s("a")])),
            ("k contains 's'", Contains(s("k"), s("s"))),
            ("k starts with 's'", StartsWith(s("k"), s("s"))),
            ("k ends with 's'", EndsWith(s("k"), s("s"))),
            (
                "a == 'x' && b == 'y'",
                And(vec![Eq(s("a"), s("x")), Eq(s("b"), s("y"))]),
            ),
            (
                "a == 'x' || b == 'y'",
                Or(vec![Eq(s("a"), s("x")), Eq(s("b"), s("y"))]),
            ),
            // && binds tighter than ||.
            (
                "a == 'x' || b == 'y' && c == 'z'",
                Or(vec![
                    Eq(s("a"), s("x")),
                    And(vec![Eq(s("b"), s("y")), Eq(s("c"), s("z"))]),
                ]),
            ),
            (
                "(a == 'x' || b == 'y') && c == 'z'",
                And(vec![
                    Or(vec![Eq(s("a"), s("x")), Eq(s("b"), s("y"))]),
                    Eq(s("c"), s("z")),
                ]),
            ),
            // ! binds tighter than &&.
            (
                "!a == 'x' && b == 'y'",
                And(vec![Not(Box::new(Eq(s("a"), s("x")))), Eq(s("b"), s("y"))]),
            ),
            (
                "!(a == 'x' && b == 'y')",
                Not(Box::new(And(vec![Eq(s("a"), s("x")), Eq(s("b"), s("y"))]))),
            ),
            // Label keys: prefix, dots, dashes, underscores, digits.
            (
                "projectcalico.org/name == 'kube-system'",
                Eq(s("projectcalico.org/name"), s("kube-system")),
            ),
            (
                "app.kubernetes.io/part-of_1 == ''",
                Eq(s("app.kubernetes.io/part-of_1"), s("")),
            ),
            // Values may hold anything but their own quote.
            ("k == 'say \"hi\"'", Eq(s("k"), s("say \"hi\""))),
            ("k == \"it's\"", Eq(s("k"), s("it's"))),
            // Keywords are only operators after a label: as a key they are labels.
            ("in == 'x'", Eq(s("in"), s("x"))),
            ("contains == 'x'", Eq(s("contains"), s("x"))),
            // The Calico docs' examples.
            ("role == 'frontend'", Eq(s("role"), s("frontend"))),
            (
                "projectcalico.org/namespace == 'stars'",
                Eq(s("projectcalico.org/namespace"), s("stars")),
            ),
            (
                "has(projectcalico.org/name) && projectcalico.org/name not in {\"kube-system\", \"calico-system\"}",
                And(vec![
                    Has(s("projectcalico.org/name")),
                    NotIn(
                        s("projectcalico.org/name"),
                        vec![s("calico-system"), s("kube-system")],
                    ),
                ]),
            ),
        ];
        for (sel, want) in table {
            assert_eq!(ok(sel), want, "{sel:?}");
        }
    }

    /// Expressions → match results on label sets (semantics from the Calico docs:
    /// `!=` and `not in` also match when the label is absent; `contains`, `starts with`
    /// and `ends with` need it present).
    #[test]
    fn match_results() {
        let web = labels(&[("app", "web"), ("tier", "frontend"), ("env", "prod-eu")]);
        let db = labels(&[("app", "db"), ("tier", "backend")]);
        let bare = labels(&[]);
        let table: Vec<(&str, [bool; 3])> = vec![
            ("all()", [true, true, true]),
            ("", [true, true, true]),
            ("app == 'web'", [true, false, false]),
            ("app != 'web'", [false, true, true]),
            ("has(env)", [true, false, false]),
            ("!has(env)", [false, true, true]),
            ("app in {'web', 'db'}", [true, true, false]),
            ("app not in {'web'}", [false, true, true]),
            ("app in {}", [false, false, false]),
            ("app not in {}", [true, true, true]),
            ("env contains 'od'", [true, false, false]),
            ("env starts with 'prod'", [true, false, false]),
            ("env ends with '-eu'", [true, false, false]),
            ("env ends with ''", [true, false, false]),
            ("tier == 'frontend' || app == 'db'", [true, true, false]),
            ("tier == 'frontend' && app == 'db'", [false, false, false]),
            ("!(tier == 'frontend') && has(tier)", [false, true, false]),
            (
                "app == 'web' || app == 'db' && tier == 'x'",
                [true, false, false],
            ),
            (
                "(app == 'web' || app == 'db') && tier == 'backend'",
                [false, true, false],
            ),
            ("!app == 'web'", [false, true, true]),
            // global() is false for every label set: pods never match it.
            ("global()", [false, false, false]),
        ];
        for (sel, want) in table {
            let e = ok(sel);
            let got = [e.matches(&web), e.matches(&db), e.matches(&bare)];
            assert_eq!(got, want, "{sel:?} parsed as {e:?}");
        }
    }

    /// Rejections, with the 1-based column of the problem.
    #[test]
    fn errors_with_columns() {
        let table: Vec<(&str, usize, &str)> = vec![
            ("k = 'v'", 3, "expected '=='"),
            ("k == v", 6, "expected a quoted string"),
            ("k == 'v", 6, "unterminated string"),
            ("k == \"v", 6, "unterminated string"),
            ("k", 2, "expected an operator"),
            ("k ~ 'v'", 3, "expected an operator after the label"),
            ("k is 'v'", 3, "expected an operator after the label"),
            ("k starts 'v'", 3, "expected 'starts with'"),
            ("k not 'v'", 3, "expected 'not in'"),
            ("k in 'v'", 6, "expected a set literal"),
            ("k in {'a' 'b'}", 11, "expected a quoted string, ',' or '}'"),
            ("k in {'a'", 10, "expected a quoted string, ',' or '}'"),
            ("has()", 5, "expected a label name"),
            ("has(k", 6, "expected ')' to close has("),
            ("has (k)", 5, "expected an operator"),
            ("all(x)", 1, "expected ')' to close all("),
            ("a == 'x' &", 10, "expected '&&'"),
            ("a == 'x' |", 10, "expected '||'"),
            ("a == 'x' &&", 12, "expected a label"),
            ("(a == 'x'", 10, "expected ')' (opened at column 1)"),
            ("a == 'x')", 9, "unexpected ')'"),
            ("a == 'x' b == 'y'", 10, "unexpected label"),
            ("a == 'x'\nb", 9, "unexpected character '\\n'"),
            ("ä == 'x'", 1, "unexpected character"),
            ("x == 'ä' && ~", 13, "unexpected character"),
            ("&& a == 'x'", 1, "found '&&'"),
        ];
        let mut wrong = Vec::new();
        for (sel, column, needle) in table {
            let e = err(sel);
            if e.column != column || !e.message.contains(needle) {
                wrong.push(format!(
                    "{sel:?}: got {e}, wanted column {column}: ...{needle}..."
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn global_is_found_anywhere() {
        assert!(mentions_global(&ok("global()")));
        assert!(mentions_global(&ok("a == 'b' || !global()")));
        assert!(!mentions_global(&ok("a == 'global()'")));
    }
}
