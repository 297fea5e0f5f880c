//! The upstream file albflip owns: one `upstream NAME { ... }` block whose blue and green `server` lines
//! carry the split as weights. Parsed and rendered here (pure). Everything else in the block (other
//! directives such as `keepalive` or `zone`, and each server's other parameters such as `max_fails`)
//! is kept as found; only `weight=` and `down` of the colors' servers are albflip's. nginx weights start
//! at 1, so a color at 0 % has its servers marked `down`.

use crate::model::{Color, Split};
use crate::providers::haproxy::weights::{self, Servers};

/// One `server` line of the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLine {
    /// Its address as written (`HOST:PORT`).
    pub address: String,
    /// Its `weight=` (nginx's default is 1).
    pub weight: u32,
    /// Whether it is marked `down`.
    pub down: bool,
    /// Its other parameters, as written.
    pub other: Vec<String>,
}

impl ServerLine {
    /// The weight it takes traffic with: 0 when marked `down`.
    pub fn effective(&self) -> u32 {
        if self.down {
            0
        } else {
            self.weight
        }
    }
}

/// One directive of the upstream block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// A `server` line.
    Server(ServerLine),
    /// Anything else, its words as written.
    Other(Vec<String>),
}

/// The upstream block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// Its name.
    pub name: String,
    /// Its directives in order.
    pub directives: Vec<Directive>,
}

/// Why a file is not an upstream albflip can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The file has no `upstream NAME` block.
    NoUpstream,
    /// The text is not what albflip writes or can read back: why.
    Malformed(String),
}

/// Splits nginx text into words and the punctuation `{`, `}` and `;`, comments left out. Quoted words
/// are kept with their quotes.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut word = String::new();
        let mut quote: Option<char> = None;
        for ch in line.chars() {
            match (quote, ch) {
                (Some(q), c) => {
                    word.push(c);
                    if c == q {
                        quote = None;
                    }
                }
                (None, '#') => break,
                (None, '"' | '\'') => {
                    quote = Some(ch);
                    word.push(ch);
                }
                (None, '{' | '}' | ';') => {
                    if !word.is_empty() {
                        out.push(std::mem::take(&mut word));
                    }
                    out.push(ch.to_string());
                }
                (None, c) if c.is_whitespace() => {
                    if !word.is_empty() {
                        out.push(std::mem::take(&mut word));
                    }
                }
                (None, c) => word.push(c),
            }
        }
        if !word.is_empty() {
            out.push(word);
        }
    }
    out
}

fn server_line(words: &[String]) -> Result<ServerLine, ParseError> {
    let Some(address) = words.first() else {
        return Err(ParseError::Malformed(
            "a server line without an address".into(),
        ));
    };
    let mut line = ServerLine {
        address: address.clone(),
        weight: 1,
        down: false,
        other: Vec::new(),
    };
    for w in &words[1..] {
        if let Some(n) = w.strip_prefix("weight=") {
            line.weight = n.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ParseError::Malformed(format!(
                    "server {address}: {w} is not a weight of 1 or more"
                ))
            })?;
        } else if w == "down" {
            line.down = true;
        } else {
            line.other.push(w.clone());
        }
    }
    Ok(line)
}

/// Parses the file's block `upstream name { ... }`.
pub fn parse(text: &str, name: &str) -> Result<Upstream, ParseError> {
    let t = tokens(text);
    let mut i = 0;
    while i + 2 < t.len() {
        if t[i] == "upstream" && t[i + 1] == name && t[i + 2] == "{" {
            return block(&t[i + 3..], name);
        }
        i += 1;
    }
    Err(ParseError::NoUpstream)
}

fn block(t: &[String], name: &str) -> Result<Upstream, ParseError> {
    let mut directives = Vec::new();
    let mut words: Vec<String> = Vec::new();
    for tok in t {
        match tok.as_str() {
            ";" => {
                if words.first().map(String::as_str) == Some("server") {
                    directives.push(Directive::Server(server_line(&words[1..])?));
                } else if !words.is_empty() {
                    directives.push(Directive::Other(words.clone()));
                }
                words.clear();
            }
            "}" if words.is_empty() => {
                return Ok(Upstream {
                    name: name.to_string(),
                    directives,
                })
            }
            "{" | "}" => {
                return Err(ParseError::Malformed(format!(
                    "an unexpected {tok:?} in upstream {name} (albflip's upstream file holds simple directives only)"
                )))
            }
            w => words.push(w.to_string()),
        }
    }
    Err(ParseError::Malformed(format!(
        "upstream {name} is not closed with }}"
    )))
}

impl Upstream {
    /// Its server lines.
    pub fn servers(&self) -> impl Iterator<Item = &ServerLine> {
        self.directives.iter().filter_map(|d| match d {
            Directive::Server(s) => Some(s),
            Directive::Other(_) => None,
        })
    }

    /// The server at `address`.
    pub fn server(&self, address: &str) -> Option<&ServerLine> {
        self.servers().find(|s| s.address == address)
    }

    /// The same upstream with each colored server's weight set for `split` (a color's share spread
    /// over its servers, a color at 0 % marked `down`); other lines as they were.
    pub fn with_split(&self, split: Split, blue: &[String], green: &[String]) -> Upstream {
        let w = weights::weights_for(
            split,
            Servers {
                blue: blue.len(),
                green: green.len(),
            },
        );
        let color_of = |a: &str| {
            if blue.iter().any(|b| b == a) {
                Some(Color::Blue)
            } else if green.iter().any(|g| g == a) {
                Some(Color::Green)
            } else {
                None
            }
        };
        let directives = self
            .directives
            .iter()
            .map(|d| match d {
                Directive::Server(s) => match color_of(&s.address) {
                    Some(color) => {
                        let weight = u32::from(w.of(color));
                        Directive::Server(ServerLine {
                            weight: weight.max(1),
                            down: weight == 0,
                            ..s.clone()
                        })
                    }
                    None => d.clone(),
                },
                Directive::Other(_) => d.clone(),
            })
            .collect();
        Upstream {
            name: self.name.clone(),
            directives,
        }
    }

    /// The file albflip writes: a comment saying who owns it, then the block.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# Written by albflip: it owns this file and rewrites it at every traffic change.\n",
        );
        out.push_str(&format!("upstream {} {{\n", self.name));
        for d in &self.directives {
            match d {
                Directive::Server(s) => {
                    out.push_str(&format!("    server {} weight={}", s.address, s.weight));
                    for o in &s.other {
                        out.push(' ');
                        out.push_str(o);
                    }
                    if s.down {
                        out.push_str(" down");
                    }
                    out.push_str(";\n");
                }
                Directive::Other(words) => {
                    out.push_str(&format!("    {};\n", words.join(" ")));
                }
            }
        }
        out.push_str("}\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Percent;

    const FILE: &str = "# hand-written\nupstream app {\n    zone app 64k;\n    server 127.0.0.1:8081 max_fails=2; # blue\n    server 127.0.0.1:8082 weight=3 down;\n    keepalive 8;\n}\n";

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_file_parses_into_servers_and_other_directives() {
        let u = parse(FILE, "app").unwrap();
        let blue = u.server("127.0.0.1:8081").unwrap();
        assert_eq!((blue.weight, blue.down, blue.effective()), (1, false, 1));
        assert_eq!(blue.other, vec!["max_fails=2"]);
        let green = u.server("127.0.0.1:8082").unwrap();
        assert_eq!((green.weight, green.down, green.effective()), (3, true, 0));
        assert_eq!(u.directives.len(), 4);
        assert_eq!(parse(FILE, "api"), Err(ParseError::NoUpstream));
        assert!(matches!(
            parse("upstream app { server 1.2.3.4:80 weight=0; }", "app"),
            Err(ParseError::Malformed(_))
        ));
        assert!(matches!(
            parse("upstream app { server 1.2.3.4:80;", "app"),
            Err(ParseError::Malformed(_))
        ));
    }

    #[test]
    fn a_split_is_written_as_weights_and_down_and_reads_back_keeping_the_rest() {
        let u = parse(FILE, "app").unwrap();
        let (blue, green) = (strings(&["127.0.0.1:8081"]), strings(&["127.0.0.1:8082"]));
        let ten = u.with_split(
            Split::to(Color::Green, Percent::new(10).unwrap()),
            &blue,
            &green,
        );
        let text = ten.render();
        let back = parse(&text, "app").unwrap();
        assert_eq!(back, ten, "{text}");
        let (b, g) = (
            back.server("127.0.0.1:8081").unwrap(),
            back.server("127.0.0.1:8082").unwrap(),
        );
        assert!(!b.down && !g.down);
        assert_eq!(
            weights::split_of(b.effective().into(), g.effective().into()),
            Some(Split::to(Color::Green, Percent::new(10).unwrap()))
        );
        assert_eq!(b.other, vec!["max_fails=2"], "other parameters kept");
        assert!(text.contains("    zone app 64k;\n") && text.contains("    keepalive 8;\n"));
        let all_blue = u
            .with_split(Split::all_to(Color::Blue), &blue, &green)
            .render();
        assert!(
            all_blue.contains("server 127.0.0.1:8082 weight=1 down;"),
            "{all_blue}"
        );
        assert!(
            all_blue.contains("server 127.0.0.1:8081 weight=256 max_fails=2;"),
            "{all_blue}"
        );
    }
}
