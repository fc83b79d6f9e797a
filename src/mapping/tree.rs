//! The `[fields]` and `[connected]` tables: Referral paths resolved (with "did you mean"),
//! duplicates found, column groups compiled, and the members put into the fixed key order.

use std::ops::Range;

use toml_edit::Item;

use super::compiled::Node;
use super::load::{Loader, item_span};
use super::spec::Target;
use super::targets::{self, Field, Kind, REFERRAL};

impl Loader<'_> {
    /// Compile an object target from a table whose keys are members (dotted keys allowed).
    pub fn object(&mut self, item: &Item, fields: &'static [Field], path: &[&'static str]) -> Node {
        let mut flat = Vec::new();
        self.members(item, fields, path, &Rel::default(), &mut flat);
        build_tree(flat)
    }

    fn members(
        &mut self,
        item: &Item,
        fields: &'static [Field],
        path: &[&'static str],
        rel: &Rel,
        out: &mut Vec<Flat>,
    ) {
        let Some(table) = item.as_table_like() else {
            self.diag
                .at(item_span(item), "expected a table of target fields");
            return;
        };
        for (key, value) in table.iter() {
            let key_span = table.key(key).and_then(|k| k.span());
            let segments: Vec<&str> = key.split('.').collect();
            let resolved = match targets::resolve(fields, &segments) {
                Ok(r) => r,
                Err(unknown) => {
                    self.unknown_target(path, &unknown, key_span.or(item_span(value)));
                    continue;
                }
            };
            let mut full: Vec<&'static str> = path.to_vec();
            full.extend(&resolved.segments);
            let mut here = rel.clone();
            here.order.extend(&resolved.order);
            here.names.extend(&resolved.segments);
            self.member(value, &resolved, &full, key_span, here, out);
        }
    }

    fn unknown_target(
        &mut self,
        prefix: &[&str],
        unknown: &targets::Unknown,
        span: Option<Range<usize>>,
    ) {
        let mut known: Vec<&str> = prefix.to_vec();
        if !unknown.known.is_empty() {
            known.push(&unknown.known);
        }
        let parent = known.join(".");
        let full = if parent.is_empty() {
            unknown.segment.clone()
        } else {
            format!("{parent}.{}", unknown.segment)
        };
        let hint = unknown
            .suggestion
            .as_ref()
            .map(|s| {
                let p = if parent.is_empty() {
                    s.clone()
                } else {
                    format!("{parent}.{s}")
                };
                format!("; did you mean `{p}`?")
            })
            .unwrap_or_default();
        self.diag.at(span, format!("unknown target `{full}`{hint}"));
    }

    /// Compile one member: a nested object, column groups, or a value spec.
    fn member(
        &mut self,
        item: &Item,
        resolved: &targets::Resolved,
        path: &[&'static str],
        key_span: Option<Range<usize>>,
        rel: Rel,
        out: &mut Vec<Flat>,
    ) {
        let dotted = path.join(".").replace(".[", "[");
        let display = dotted.trim_start_matches("connected.").to_string();
        if display == "externalReferenceId" {
            self.diag.at(
                key_span,
                "set externalReferenceId with the top-level `external_id`",
            );
            return;
        }
        let is_spec = item
            .as_table_like()
            .is_some_and(|t| super::spec::SPEC_KEYS.iter().any(|k| t.contains_key(k)));
        match resolved.kind {
            Kind::Object(inner) if !is_spec && item.as_table_like().is_some() => {
                return self.members(item, inner, path, &rel, out);
            }
            Kind::Array(inner) if is_groups(item) => {
                let node = self.groups(item, inner, path);
                out.push((rel, node));
                return;
            }
            _ => {}
        }
        let span = key_span.or(item_span(item));
        let pos = self.diag.pos(span.clone());
        if let Some(first) = self.seen.get(&dotted.to_lowercase()) {
            let msg = format!(
                "duplicate target `{display}` (first set at line {})",
                first.line
            );
            self.diag.at(span, msg);
            return;
        }
        self.seen.insert(dotted.to_lowercase(), pos);
        let target = Target {
            path: &display,
            kind: resolved.kind,
            enum_path: enum_path(resolved, path),
        };
        let Some(mut leaf) = self.leaf(item, &target) else {
            return;
        };
        if let (Kind::Array(inner), Some(_)) = (resolved.kind, &leaf.split) {
            leaf.item_key = inner
                .iter()
                .find(|f| f.name == "id")
                .map_or("id", |f| f.name);
        }
        out.push((rel, Node::Leaf(Box::new(leaf))));
    }

    fn groups(&mut self, item: &Item, inner: &'static [Field], path: &[&'static str]) -> Node {
        let elements: Vec<Item> = if let Some(aot) = item.as_array_of_tables() {
            aot.iter().map(|t| Item::Table(t.clone())).collect()
        } else {
            item.as_array()
                .map(|a| a.iter().map(|v| Item::Value(v.clone())).collect())
                .unwrap_or_default()
        };
        let mut nodes = Vec::new();
        for (i, element) in elements.iter().enumerate() {
            let Some(segment) = index_segment(i) else {
                let msg = format!("{}: at most {MAX_GROUPS} column groups", path.join("."));
                self.diag.at(item_span(element), msg);
                break;
            };
            let mut element_path = path.to_vec();
            element_path.push(segment);
            nodes.push(self.object(element, inner, &element_path));
        }
        Node::Groups(nodes)
    }
}

/// A member's position below the object being compiled: the order key and name of each
/// segment.
#[derive(Debug, Clone, Default)]
pub struct Rel {
    order: Vec<usize>,
    names: Vec<&'static str>,
}

type Flat = (Rel, Node);

/// Build the object tree from members in any order: sorted by the fixed target order,
/// grouped by their first segment.
fn build_tree(mut flat: Vec<Flat>) -> Node {
    flat.sort_by(|a, b| a.0.order.cmp(&b.0.order));
    let mut members: Vec<(&'static str, Node)> = Vec::new();
    let mut iter = flat.into_iter().peekable();
    while let Some((rel, node)) = iter.next() {
        let (Some(first), Some(name)) = (rel.order.first().copied(), rel.names.first().copied())
        else {
            continue;
        };
        if rel.order.len() == 1 {
            members.push((name, node));
            continue;
        }
        let mut group = vec![(tail(rel), node)];
        while let Some((next, _)) = iter.peek() {
            if next.order.first() != Some(&first) || next.order.len() == 1 {
                break;
            }
            if let Some((next, node)) = iter.next() {
                group.push((tail(next), node));
            }
        }
        members.push((name, build_tree(group)));
    }
    Node::Object(members)
}

fn tail(rel: Rel) -> Rel {
    Rel {
        order: rel.order.get(1..).unwrap_or_default().to_vec(),
        names: rel.names.get(1..).unwrap_or_default().to_vec(),
    }
}

fn is_groups(item: &Item) -> bool {
    item.as_array_of_tables().is_some()
        || item
            .as_array()
            .is_some_and(|a| a.iter().all(|v| v.as_inline_table().is_some()) && !a.is_empty())
}

/// The `allowed_values` (or `sales_taxonomy::known_values`) path of an enum leaf
/// (`target[].type`), if the leaf is an enum or a split array of enum ids.
fn enum_path(resolved: &targets::Resolved, path: &[&'static str]) -> Option<String> {
    let clean: Vec<&str> = path
        .iter()
        .copied()
        .filter(|s| *s != "connected" && !s.starts_with('['))
        .collect();
    let mut joined = String::new();
    let mut fields = REFERRAL;
    for (i, seg) in clean.iter().enumerate() {
        if i > 0 {
            joined.push('.');
        }
        joined.push_str(seg);
        let field = fields.iter().find(|f| f.name == *seg)?;
        match field.kind {
            Kind::Array(inner) => {
                joined.push_str("[]");
                fields = inner;
            }
            Kind::Object(inner) => fields = inner,
            _ => {}
        }
    }
    let listed = |kind: Kind| matches!(kind, Kind::Enum | Kind::Known);
    match resolved.kind {
        Kind::Enum | Kind::Known => Some(joined),
        Kind::Array(inner) if inner.iter().any(|f| f.name == "id" && listed(f.kind)) => {
            Some(format!("{joined}.id"))
        }
        _ => None,
    }
}

/// The most column groups one array may have.
const MAX_GROUPS: usize = 32;

/// `[0]`, `[1]`… as static segments for element paths.
fn index_segment(i: usize) -> Option<&'static str> {
    const SEGMENTS: [&str; MAX_GROUPS] = [
        "[0]", "[1]", "[2]", "[3]", "[4]", "[5]", "[6]", "[7]", "[8]", "[9]", "[10]", "[11]",
        "[12]", "[13]", "[14]", "[15]", "[16]", "[17]", "[18]", "[19]", "[20]", "[21]", "[22]",
        "[23]", "[24]", "[25]", "[26]", "[27]", "[28]", "[29]", "[30]", "[31]",
    ];
    SEGMENTS.get(i).copied()
}
