//! The grammar shared by HTTP and TCP rules: matcher calls with Go string literal arguments,
//! combined with `!`, `&&`, `||` and parentheses (`!` > `&&` > `||`).
//!
//! Parsing yields an [`Expr`] whose negations have been pushed down to the leaves with
//! De Morgan's laws, so evaluation and indexing only ever see `All`, `Any` and leaves.
use super::error::RuleError;

/// One matcher call as written: `Host(`a.com`)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    pub name: String,
    /// Byte offset of the matcher name in the rule.
    pub offset: usize,
    pub args: Vec<Arg>,
}

/// One literal argument with its byte offset in the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Arg {
    pub value: String,
    pub offset: usize,
}

/// A boolean tree over leaves of type `M`, negations only on leaves.
#[derive(Debug, Clone)]
pub(crate) enum Expr<M> {
    Leaf { matcher: M, negated: bool },
    All(Vec<Expr<M>>),
    Any(Vec<Expr<M>>),
}

impl<M> Expr<M> {
    /// A non-negated leaf.
    pub fn leaf(matcher: M) -> Self {
        Expr::Leaf {
            matcher,
            negated: false,
        }
    }

    /// The negation of the tree, by De Morgan's laws.
    pub fn negate(self) -> Self {
        match self {
            Expr::Leaf { matcher, negated } => Expr::Leaf {
                matcher,
                negated: !negated,
            },
            Expr::All(children) => Expr::Any(children.into_iter().map(Expr::negate).collect()),
            Expr::Any(children) => Expr::All(children.into_iter().map(Expr::negate).collect()),
        }
    }

    /// Evaluates the tree, `test` deciding each (non-negated) leaf.
    pub fn eval(&self, test: &mut impl FnMut(&M) -> bool) -> bool {
        match self {
            Expr::Leaf { matcher, negated } => test(matcher) != *negated,
            Expr::All(children) => children.iter().all(|child| child.eval(test)),
            Expr::Any(children) => children.iter().any(|child| child.eval(test)),
        }
    }
}

/// Parses `source` and turns every call into a sub-tree with `build` (a leaf, or for the
/// v2 dialect's multi-value matchers an `Any` of leaves).
pub(crate) fn parse<M>(
    source: &str,
    build: &mut impl FnMut(&Call) -> Result<Expr<M>, RuleError>,
) -> Result<Expr<M>, RuleError> {
    let tokens = tokenize(source)?;
    let mut parser = Parser {
        source,
        tokens,
        position: 0,
        depth: 0,
    };
    if parser.peek().kind == TokenKind::End {
        return Err(RuleError::at(source, 0, "empty rule"));
    }
    let ast = parser.or_expr()?;
    let next = parser.peek();
    if next.kind != TokenKind::End {
        return Err(RuleError::at(
            source,
            next.offset,
            format!(
                "unexpected {}, expected `&&`, `||` or end of rule",
                next.kind
            ),
        ));
    }
    lower(ast, false, build)
}

/// The syntax tree before negations are pushed down.
enum Ast {
    Call(Call),
    Not(Box<Ast>),
    And(Vec<Ast>),
    Or(Vec<Ast>),
}

fn lower<M>(
    ast: Ast,
    negate: bool,
    build: &mut impl FnMut(&Call) -> Result<Expr<M>, RuleError>,
) -> Result<Expr<M>, RuleError> {
    let lower_all = |children: Vec<Ast>, build: &mut _| {
        children
            .into_iter()
            .map(|child| lower(child, negate, build))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match ast {
        Ast::Call(call) if negate => build(&call)?.negate(),
        Ast::Call(call) => build(&call)?,
        Ast::Not(inner) => lower(*inner, !negate, build)?,
        // De Morgan: !(a && b) == !a || !b and !(a || b) == !a && !b.
        Ast::And(children) if negate => Expr::Any(lower_all(children, build)?),
        Ast::And(children) => Expr::All(lower_all(children, build)?),
        Ast::Or(children) if negate => Expr::All(lower_all(children, build)?),
        Ast::Or(children) => Expr::Any(lower_all(children, build)?),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenKind {
    Ident(String),
    Literal(String),
    OpenParen,
    CloseParen,
    Comma,
    And,
    Or,
    Not,
    End,
}

impl std::fmt::Display for TokenKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenKind::Ident(name) => write!(f, "`{name}`"),
            TokenKind::Literal(_) => f.write_str("string literal"),
            TokenKind::OpenParen => f.write_str("`(`"),
            TokenKind::CloseParen => f.write_str("`)`"),
            TokenKind::Comma => f.write_str("`,`"),
            TokenKind::And => f.write_str("`&&`"),
            TokenKind::Or => f.write_str("`||`"),
            TokenKind::Not => f.write_str("`!`"),
            TokenKind::End => f.write_str("end of rule"),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokenKind,
    offset: usize,
}

fn tokenize(source: &str) -> Result<Vec<Token>, RuleError> {
    let mut tokens = Vec::new();
    let mut chars = source.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        let kind = match c {
            c if c.is_whitespace() => continue,
            '(' => TokenKind::OpenParen,
            ')' => TokenKind::CloseParen,
            ',' => TokenKind::Comma,
            '!' => TokenKind::Not,
            '&' | '|' => {
                if chars.next_if(|&(_, next)| next == c).is_none() {
                    return Err(RuleError::at(
                        source,
                        offset,
                        format!("unexpected `{c}`, did you mean `{c}{c}`?"),
                    ));
                }
                if c == '&' {
                    TokenKind::And
                } else {
                    TokenKind::Or
                }
            }
            '`' => {
                let start = offset + 1;
                let end = source[start..]
                    .find('`')
                    .ok_or_else(|| RuleError::at(source, offset, "unterminated backtick string"))?;
                let value = &source[start..start + end];
                // Skip the literal's characters and the closing backtick.
                while chars.next_if(|&(at, _)| at <= start + end).is_some() {}
                TokenKind::Literal(value.to_owned())
            }
            '"' => TokenKind::Literal(quoted_literal(source, offset, &mut chars)?),
            '\'' => {
                return Err(RuleError::at(
                    source,
                    offset,
                    "single-quoted values are not allowed, use backticks or double quotes",
                ));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = offset + c.len_utf8();
                while let Some((at, next)) =
                    chars.next_if(|&(_, next)| next.is_ascii_alphanumeric() || next == '_')
                {
                    end = at + next.len_utf8();
                }
                TokenKind::Ident(source[offset..end].to_owned())
            }
            other => {
                return Err(RuleError::at(
                    source,
                    offset,
                    format!("unexpected character `{other}`"),
                ));
            }
        };
        tokens.push(Token { kind, offset });
    }
    tokens.push(Token {
        kind: TokenKind::End,
        offset: source.len(),
    });
    Ok(tokens)
}

/// Reads a Go interpreted string literal whose opening quote is at `open`.
fn quoted_literal(
    source: &str,
    open: usize,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<String, RuleError> {
    let mut value = String::new();
    loop {
        let Some((offset, c)) = chars.next() else {
            return Err(RuleError::at(
                source,
                open,
                "unterminated double-quoted string",
            ));
        };
        match c {
            '"' => return Ok(value),
            '\n' => {
                return Err(RuleError::at(
                    source,
                    open,
                    "unterminated double-quoted string",
                ));
            }
            '\\' => {
                let escaped = escape_sequence(chars)
                    .ok_or_else(|| RuleError::at(source, offset, "invalid escape sequence"))?;
                value.push(escaped);
            }
            c => value.push(c),
        }
    }
}

/// Decodes the escape after a backslash (Go's `\a \b \f \n \r \t \v \\ \" \xHH \ooo \uXXXX
/// \UXXXXXXXX`). Byte escapes must form a character on their own, since rules are text.
fn escape_sequence(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> Option<char> {
    fn hex(
        chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
        digits: usize,
    ) -> Option<u32> {
        (0..digits).try_fold(0u32, |acc, _| {
            let (_, c) = chars.next()?;
            Some(acc * 16 + c.to_digit(16)?)
        })
    }
    let (_, c) = chars.next()?;
    let code = match c {
        'a' => 0x07,
        'b' => 0x08,
        'f' => 0x0c,
        'n' => u32::from('\n'),
        'r' => u32::from('\r'),
        't' => u32::from('\t'),
        'v' => 0x0b,
        '\\' => u32::from('\\'),
        '"' => u32::from('"'),
        'x' => hex(chars, 2).filter(|&byte| byte < 0x80)?,
        'u' => hex(chars, 4)?,
        'U' => hex(chars, 8)?,
        '0'..='7' => {
            let mut code = c.to_digit(8)?;
            for _ in 0..2 {
                let (_, digit) = chars.next()?;
                code = code * 8 + digit.to_digit(8)?;
            }
            Some(code).filter(|&byte| byte < 0x80)?
        }
        _ => return None,
    };
    char::from_u32(code)
}

/// How deep `!` and parentheses may nest: rules come from users, and parsing and
/// evaluation recurse once per level.
const MAX_NESTING: usize = 64;

struct Parser<'s> {
    source: &'s str,
    tokens: Vec<Token>,
    position: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // `tokenize` always ends the list with `End`, and `bump` never moves past it.
        &self.tokens[self.position.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::End {
            self.position += 1;
        }
        token
    }

    fn error(&self, token: &Token, expected: &str) -> RuleError {
        RuleError::at(
            self.source,
            token.offset,
            format!("unexpected {}, expected {expected}", token.kind),
        )
    }

    fn or_expr(&mut self) -> Result<Ast, RuleError> {
        let mut terms = vec![self.and_expr()?];
        while self.peek().kind == TokenKind::Or {
            self.bump();
            terms.push(self.and_expr()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Ast::Or(terms)
        })
    }

    fn and_expr(&mut self) -> Result<Ast, RuleError> {
        let mut factors = vec![self.unary()?];
        while self.peek().kind == TokenKind::And {
            self.bump();
            factors.push(self.unary()?);
        }
        Ok(if factors.len() == 1 {
            factors.remove(0)
        } else {
            Ast::And(factors)
        })
    }

    fn unary(&mut self) -> Result<Ast, RuleError> {
        let token = self.bump();
        if !matches!(token.kind, TokenKind::Not | TokenKind::OpenParen) {
            return self.unary_inner(token);
        }
        if self.depth == MAX_NESTING {
            return Err(RuleError::at(
                self.source,
                token.offset,
                format!("rule nests `!` and parentheses deeper than {MAX_NESTING} levels"),
            ));
        }
        self.depth += 1;
        let ast = self.unary_inner(token);
        self.depth -= 1;
        ast
    }

    fn unary_inner(&mut self, token: Token) -> Result<Ast, RuleError> {
        match token.kind {
            TokenKind::Not => Ok(Ast::Not(Box::new(self.unary()?))),
            TokenKind::OpenParen => {
                let inner = self.or_expr()?;
                let close = self.bump();
                if close.kind != TokenKind::CloseParen {
                    return Err(self.error(&close, "`)`"));
                }
                Ok(inner)
            }
            TokenKind::Ident(name) => self.call(name, token.offset),
            _ => Err(self.error(&token, "a matcher, `!` or `(`")),
        }
    }

    fn call(&mut self, name: String, offset: usize) -> Result<Ast, RuleError> {
        let open = self.bump();
        if open.kind != TokenKind::OpenParen {
            return Err(self.error(&open, &format!("`(` after `{name}`")));
        }
        let mut args = Vec::new();
        if self.peek().kind == TokenKind::CloseParen {
            self.bump();
        } else {
            loop {
                let token = self.bump();
                let TokenKind::Literal(value) = token.kind else {
                    return Err(
                        self.error(&token, "a string literal in backticks or double quotes")
                    );
                };
                args.push(Arg {
                    value,
                    offset: token.offset,
                });
                let separator = self.bump();
                match separator.kind {
                    TokenKind::Comma => continue,
                    TokenKind::CloseParen => break,
                    _ => return Err(self.error(&separator, "`,` or `)`")),
                }
            }
        }
        Ok(Ast::Call(Call { name, offset, args }))
    }
}

/// Accepts `name` in the spellings Traefik accepts for `canonical`: exact, lower-case,
/// UPPER-case and Title-case (`PathPrefix`, `pathprefix`, `PATHPREFIX`, `Pathprefix`).
pub(crate) fn name_matches(name: &str, canonical: &str) -> bool {
    if name == canonical || name == canonical.to_ascii_lowercase() {
        return true;
    }
    if name == canonical.to_ascii_uppercase() {
        return true;
    }
    let mut title = canonical.to_ascii_lowercase();
    if let Some(first) = title.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    name == title
}

/// Checks the argument count and that no argument is empty.
pub(crate) fn check_args(
    source: &str,
    call: &Call,
    canonical: &str,
    allowed: std::ops::RangeInclusive<usize>,
) -> Result<(), RuleError> {
    let count = call.args.len();
    if !allowed.contains(&count) {
        let expected = if allowed.start() == allowed.end() {
            format!("{}", allowed.start())
        } else {
            format!("{} or {}", allowed.start(), allowed.end())
        };
        let plural = if *allowed.end() == 1 { "" } else { "s" };
        return Err(RuleError::at(
            source,
            call.offset,
            format!("`{canonical}` takes {expected} argument{plural}, got {count}"),
        ));
    }
    if let Some(empty) = call.args.iter().find(|arg| arg.value.is_empty()) {
        return Err(RuleError::at(
            source,
            empty.offset,
            format!("empty argument for `{canonical}`"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses with a leaf type that just records the call, for grammar-only tests.
    fn parse_calls(source: &str) -> Result<Expr<Call>, RuleError> {
        parse(source, &mut |call: &Call| Ok(Expr::leaf(call.clone())))
    }

    /// Renders the lowered tree compactly: `!` only on leaves, `&`/`|` groups.
    fn render(expr: &Expr<Call>) -> String {
        match expr {
            Expr::Leaf { matcher, negated } => {
                let args: Vec<_> = matcher.args.iter().map(|a| a.value.as_str()).collect();
                format!(
                    "{}{}({})",
                    if *negated { "!" } else { "" },
                    matcher.name,
                    args.join(",")
                )
            }
            Expr::All(children) => {
                let parts: Vec<_> = children.iter().map(render).collect();
                format!("[{}]", parts.join(" & "))
            }
            Expr::Any(children) => {
                let parts: Vec<_> = children.iter().map(render).collect();
                format!("[{}]", parts.join(" | "))
            }
        }
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let expr = parse_calls("A(`a`) || B(`b`) && !C(`c`)").unwrap();
        assert_eq!(render(&expr), "[A(a) | [B(b) & !C(c)]]");
    }

    #[test]
    fn parentheses_override_precedence() {
        let expr = parse_calls("(A(`a`) || B(`b`)) && C(`c`)").unwrap();
        assert_eq!(render(&expr), "[[A(a) | B(b)] & C(c)]");
    }

    #[test]
    fn negation_is_pushed_to_leaves_with_de_morgan() {
        let expr = parse_calls("!(A(`a`) && (B(`b`) || !C(`c`)))").unwrap();
        assert_eq!(render(&expr), "[!A(a) | [!B(b) & C(c)]]");
        let expr = parse_calls("!!A(`a`)").unwrap();
        assert_eq!(render(&expr), "A(a)");
    }

    #[test]
    fn double_quoted_literals_decode_go_escapes() {
        let expr = parse_calls(r#"A("a\"b\\c\x41\u00e9\101", `raw\n`)"#).unwrap();
        assert_eq!(render(&expr), "A(a\"b\\cAéA,raw\\n)");
    }

    #[test]
    fn arguments_and_whitespace() {
        let expr = parse_calls("  Header( `k` ,\t\"v\" )  ").unwrap();
        assert_eq!(render(&expr), "Header(k,v)");
        let expr = parse_calls("None()").unwrap();
        assert_eq!(render(&expr), "None()");
    }

    #[test]
    fn errors_carry_the_column() {
        let cases = [
            ("", "column 1: empty rule"),
            ("   ", "column 1: empty rule"),
            (
                "Host('a')",
                "column 6: single-quoted values are not allowed, use backticks or double quotes",
            ),
            (
                "Host(`a`",
                "column 9: unexpected end of rule, expected `,` or `)`",
            ),
            ("Host(`a)", "column 6: unterminated backtick string"),
            ("Host(\"a)", "column 6: unterminated double-quoted string"),
            (r#"Host("a\q")"#, "column 8: invalid escape sequence"),
            (
                "Host(`a`) & Path(`/`)",
                "column 11: unexpected `&`, did you mean `&&`?",
            ),
            (
                "Host(`a`) Path(`/`)",
                "column 11: unexpected `Path`, expected `&&`, `||` or end of rule",
            ),
            (
                "Host",
                "column 5: unexpected end of rule, expected `(` after `Host`",
            ),
            (
                "Host(a)",
                "column 6: unexpected `a`, expected a string literal in backticks or double quotes",
            ),
            (
                "Host(`a`) && ",
                "column 14: unexpected end of rule, expected a matcher, `!` or `(`",
            ),
            (
                "(Host(`a`)",
                "column 11: unexpected end of rule, expected `)`",
            ),
            ("Host(`a`) $", "column 11: unexpected character `$`"),
            ("Hóst(`a`)", "column 2: unexpected character `ó`"),
        ];
        for (rule, expected) in cases {
            let error = parse_calls(rule).expect_err(rule);
            assert_eq!(error.to_string(), expected, "rule {rule:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |levels: usize| {
            format!(
                "{}A(`a`){}",
                "(!".repeat(levels / 2),
                ")".repeat(levels / 2)
            )
        };
        assert!(parse_calls(&nested(64)).is_ok());
        let error = parse_calls(&nested(66)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "column 65: rule nests `!` and parentheses deeper than 64 levels"
        );
        // Siblings do not add up: only depth counts.
        let wide = vec![nested(60); 50].join(" && ");
        assert!(parse_calls(&wide).is_ok());
        assert!(parse_calls(&"!".repeat(100_000)).is_err());
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let error = parse_calls("A(`é`) B").unwrap_err();
        assert_eq!(error.column, 8);
    }

    #[test]
    fn matcher_name_spellings() {
        for name in ["PathPrefix", "pathprefix", "PATHPREFIX", "Pathprefix"] {
            assert!(name_matches(name, "PathPrefix"), "{name}");
        }
        for name in ["pathPrefix", "PAthprefix", "Path", "PathPrefixx"] {
            assert!(!name_matches(name, "PathPrefix"), "{name}");
        }
    }

    #[test]
    fn argument_checks() {
        let call = |args: &[&str]| Call {
            name: "Query".into(),
            offset: 0,
            args: args
                .iter()
                .map(|value| Arg {
                    value: value.to_string(),
                    offset: 6,
                })
                .collect(),
        };
        assert!(check_args("", &call(&["k"]), "Query", 1..=2).is_ok());
        assert_eq!(
            check_args("", &call(&[]), "Query", 1..=2)
                .unwrap_err()
                .message,
            "`Query` takes 1 or 2 arguments, got 0"
        );
        assert_eq!(
            check_args("", &call(&["a", "b"]), "Host", 1..=1)
                .unwrap_err()
                .message,
            "`Host` takes 1 argument, got 2"
        );
        assert_eq!(
            check_args("", &call(&["k", ""]), "Query", 1..=2)
                .unwrap_err()
                .message,
            "empty argument for `Query`"
        );
    }
}
