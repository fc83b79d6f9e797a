//! The Referral paths a mapping may write, and what kind of value each one holds.
//!
//! Mapping files name targets by their JSON path (`customerProfile.address.city`). Knowing
//! the shape lets the loader reject a typo with a "did you mean", check value-map outputs
//! against the enum of their target, and emit every object's keys in one fixed order, so
//! the same row always maps to byte-identical JSON whatever the order of the mapping file.

/// What a target holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Str,
    /// A string out of a fixed set (checked against `referral::allowed_values`).
    Enum,
    /// A string whose known values change every fiscal year (`referral::sales_taxonomy`):
    /// a literal outside them is a warning at load, never an error.
    Known,
    /// A JSON number.
    Number,
    /// A JSON bool.
    Bool,
    /// A UTC ISO-8601 date-time string.
    DateTime,
    /// A nested object.
    Object(&'static [Field]),
    /// An array of objects: built from column groups, or from a delimited cell when the
    /// element has an `id` (tags, solutions, targets).
    Array(&'static [Field]),
}

/// One named member of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field { name, kind }
}

const CONTACT_PREFERENCE: &[Field] = &[
    f("locale", Kind::Str),
    f("disableNotifications", Kind::Bool),
];

const MEMBER: &[Field] = &[
    f("firstName", Kind::Str),
    f("lastName", Kind::Str),
    f("title", Kind::Str),
    f("phoneNumber", Kind::Str),
    f("email", Kind::Str),
    f("contactPreference", Kind::Object(CONTACT_PREFERENCE)),
];

const ADDRESS: &[Field] = &[
    f("addressLine1", Kind::Str),
    f("addressLine2", Kind::Str),
    f("city", Kind::Str),
    f("state", Kind::Str),
    f("postalCode", Kind::Str),
    f("country", Kind::Str),
    f("region", Kind::Str),
];

const PROFILE_ID: &[Field] = &[f("profileType", Kind::Enum), f("id", Kind::Str)];

const CUSTOMER_PROFILE: &[Field] = &[
    f("name", Kind::Str),
    f("address", Kind::Object(ADDRESS)),
    f("size", Kind::Enum),
    f("team", Kind::Array(MEMBER)),
    f("ids", Kind::Array(PROFILE_ID)),
];

const CONSENT: &[Field] = &[
    f("consentToToShareInfoWithOthers", Kind::Bool),
    f("consentToContact", Kind::Bool),
    f("consentToMicrosoftToContactSpecificPartners", Kind::Bool),
    f("consentToShareReferralWithMicrosoftSellers", Kind::Bool),
];

const TAG: &[Field] = &[f("id", Kind::Enum)];

const SOLUTION: &[Field] = &[
    f("id", Kind::Str),
    f("name", Kind::Str),
    f("type", Kind::Enum),
];

/// An attribute of the additional requirements; the create example sends the customer's
/// marketplace intent as one (`{"id": "HaveNotDecided", "type": "CustomerMarketplaceIntent"}`).
const ATTRIBUTE: &[Field] = &[f("id", Kind::Known), f("type", Kind::Str)];

const ADDITIONAL_REQUIREMENTS: &[Field] = &[f("attributes", Kind::Array(ATTRIBUTE))];

const REQUIREMENTS: &[Field] = &[
    f("industries", Kind::Array(TAG)),
    f("products", Kind::Array(TAG)),
    f("services", Kind::Array(TAG)),
    f("solutions", Kind::Array(SOLUTION)),
    f(
        "additionalRequirements",
        Kind::Object(ADDITIONAL_REQUIREMENTS),
    ),
];

const DETAILS: &[Field] = &[
    f("notes", Kind::Str),
    f("dealValue", Kind::Number),
    f("currency", Kind::Str),
    f("closingDateTime", Kind::DateTime),
    f("requirements", Kind::Object(REQUIREMENTS)),
    f("customerRequestedContact", Kind::Bool),
    f("customerAction", Kind::Str),
];

const INVITED_BY: &[Field] = &[
    f("organizationId", Kind::Str),
    f("organizationName", Kind::Str),
];

const INVITE_CONTEXT: &[Field] = &[
    f("notes", Kind::Str),
    f("invitedBy", Kind::Object(INVITED_BY)),
    f("assistanceRequestCode", Kind::Enum),
];

const TARGET: &[Field] = &[f("type", Kind::Enum), f("id", Kind::Str)];

/// The writable members of a Referral, in the order they are emitted.
pub const REFERRAL: &[Field] = &[
    f("externalReferenceId", Kind::Str),
    f("name", Kind::Str),
    f("type", Kind::Enum),
    f("qualification", Kind::Enum),
    f("status", Kind::Enum),
    f("substatus", Kind::Enum),
    f("statusReason", Kind::Str),
    f("salesStage", Kind::Str),
    f("partnerRole", Kind::Known),
    f("solutionArea", Kind::Known),
    f("solutionPlay", Kind::Known),
    f("customerMarketplaceIntent", Kind::Known),
    f("customerProfile", Kind::Object(CUSTOMER_PROFILE)),
    f("consent", Kind::Object(CONSENT)),
    f("details", Kind::Object(DETAILS)),
    f("team", Kind::Array(MEMBER)),
    f("inviteContext", Kind::Object(INVITE_CONTEXT)),
    f("target", Kind::Array(TARGET)),
];

/// A resolved target: canonical spelling, the order key of each segment, and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Canonical segments (`["customerProfile", "address", "city"]`).
    pub segments: Vec<&'static str>,
    /// Position of each segment among its siblings (for the fixed key order).
    pub order: Vec<usize>,
    pub kind: Kind,
}

impl Resolved {
    /// The dotted path (`customerProfile.address.city`).
    pub fn path(&self) -> String {
        self.segments.join(".")
    }
}

/// Why a path does not name a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// The part that resolved (`customerProfile.address`).
    pub known: String,
    /// The segment that did not.
    pub segment: String,
    /// The closest valid member, if any is close.
    pub suggestion: Option<String>,
}

/// Resolve dotted segments (matched case-insensitively, as the API binds them) below `fields`.
pub fn resolve(fields: &'static [Field], segments: &[&str]) -> Result<Resolved, Unknown> {
    let mut current = fields;
    let mut out = Resolved {
        segments: Vec::new(),
        order: Vec::new(),
        kind: Kind::Object(fields),
    };
    for segment in segments {
        let found = current
            .iter()
            .enumerate()
            .find(|(_, f)| f.name.eq_ignore_ascii_case(segment));
        let Some((i, field)) = found else {
            let names = current.iter().map(|f| f.name);
            return Err(Unknown {
                known: out.path(),
                segment: (*segment).to_string(),
                suggestion: closest(segment, names).map(str::to_string),
            });
        };
        out.segments.push(field.name);
        out.order.push(i);
        out.kind = field.kind;
        current = match field.kind {
            Kind::Object(inner) | Kind::Array(inner) => inner,
            _ => &[],
        };
    }
    Ok(out)
}

/// Every leaf path below `fields`, for suggestions and the JSON Schema (`[]` marks arrays).
pub fn leaf_paths(fields: &'static [Field], prefix: &str, out: &mut Vec<String>) {
    for field in fields {
        let path = if prefix.is_empty() {
            field.name.to_string()
        } else {
            format!("{prefix}.{}", field.name)
        };
        match field.kind {
            Kind::Object(inner) => leaf_paths(inner, &path, out),
            Kind::Array(inner) => {
                out.push(path.clone());
                leaf_paths(inner, &format!("{path}[]"), out);
            }
            _ => out.push(path),
        }
    }
}

/// The candidate closest to `word` by edit distance (case-insensitive), when it is close
/// enough to be a plausible typo.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let limit = (lower.chars().count() / 3).max(2);
    candidates
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_case_insensitively_with_order() {
        let r = resolve(REFERRAL, &["customerprofile", "Address", "city"]).unwrap();
        assert_eq!(r.path(), "customerProfile.address.city");
        let profile = REFERRAL.iter().position(|f| f.name == "customerProfile");
        assert_eq!(r.order, vec![profile.unwrap(), 1, 2]);
        assert_eq!(r.kind, Kind::Str);
    }

    #[test]
    fn unknown_segment_suggests() {
        let e = resolve(REFERRAL, &["customerProfile", "adress"]).unwrap_err();
        assert_eq!(e.known, "customerProfile");
        assert_eq!(e.suggestion.as_deref(), Some("address"));
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
