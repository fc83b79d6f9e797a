//! The fields Partner Center added to the create contract for co-sell (`partnerRole`,
//! `solutionArea`, `solutionPlay`, `customerMarketplaceIntent`), and the values known for them,
//! in one table with the fiscal year it describes.
//!
//! Microsoft renames solution areas and plays every fiscal year ("The Solution Areas and
//! Solution Plays taxonomy is updated for FY26", referral resources page), and the pages
//! available to us publish the enum names but not all of their values. So these values are
//! advice, not law: a mapping that writes a value outside the table gets a warning at load
//! (naming the table's version), never an error, and a row carrying one is sent as it is.
//!
//! What is in the table, and where it comes from:
//! - `customerMarketplaceIntent`: `HaveNotDecided`, the one value the create example shows
//!   (sent there as `details.requirements.additionalRequirements.attributes`
//!   `[{"id": "HaveNotDecided", "type": "CustomerMarketplaceIntent"}]`).
//! - `partnerRole`, `solutionArea`, `solutionPlay`: the enums are named ("Required for Services
//!   co-sell referrals only") but their values are not published on the pages we could read
//!   (learn.microsoft.com `partner-center/developer/referral-resources`, which carries the FY26
//!   note, and `create-a-referral`, whose property table names the three enums and whose
//!   example sets none of them; the 2023 swagger predates them). The lists are empty, and an
//!   empty list means "not known": no warning for any value, since a warning on every value,
//!   right or wrong, would teach users to ignore it. Fill them in here, with the year and the
//!   page, when Microsoft publishes them; `../shared/spec/referrals-api.md` §14 lists the gap.

/// The fiscal year the table describes.
pub const VERSION: &str = "FY26";

/// `customerMarketplaceIntent`, and the `id` of an attribute of that type.
pub static CUSTOMER_MARKETPLACE_INTENTS: &[&str] = &["HaveNotDecided"];

/// `partnerRole` (values not published).
pub static PARTNER_ROLES: &[&str] = &[];

/// `solutionArea` (values not published).
pub static SOLUTION_AREAS: &[&str] = &[];

/// `solutionPlay` (values not published).
pub static SOLUTION_PLAYS: &[&str] = &[];

/// The `type` of an additional-requirements attribute that carries the marketplace intent.
pub const INTENT_ATTRIBUTE_TYPE: &str = "CustomerMarketplaceIntent";

/// The known values at a payload path (`partnerRole`, `solutionArea`, `solutionPlay`,
/// `customerMarketplaceIntent`, `details.requirements.additionalRequirements.attributes[].id`),
/// or `None` where this table says nothing (an unknown path, or a list not published).
pub fn known_values(path: &str) -> Option<&'static [&'static str]> {
    let values: &'static [&'static str] = match path {
        "partnerRole" => PARTNER_ROLES,
        "solutionArea" => SOLUTION_AREAS,
        "solutionPlay" => SOLUTION_PLAYS,
        "customerMarketplaceIntent"
        | "details.requirements.additionalRequirements.attributes[].id" => {
            CUSTOMER_MARKETPLACE_INTENTS
        }
        _ => return None,
    };
    (!values.is_empty()).then_some(values)
}

/// The warning for `value` at `path` when the table knows the path and not the value.
pub fn unknown_value_warning(path: &str, value: &str) -> Option<String> {
    let known = known_values(path)?;
    if value.is_empty() || known.contains(&value) {
        return None;
    }
    Some(format!(
        "{path}: {value:?} is not in the {VERSION} table of known values ({}); it is sent as \
         it is (Microsoft renames these every fiscal year: check the current Partner Center \
         referral resources page)",
        known.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_values() {
        assert_eq!(
            unknown_value_warning("customerMarketplaceIntent", "HaveNotDecided"),
            None
        );
        let warning = unknown_value_warning("customerMarketplaceIntent", "Decided").expect("warns");
        assert!(
            warning.contains("FY26") && warning.contains("HaveNotDecided"),
            "{warning}"
        );
        assert!(
            unknown_value_warning(
                "details.requirements.additionalRequirements.attributes[].id",
                "Maybe"
            )
            .is_some()
        );
        assert_eq!(
            unknown_value_warning("solutionArea", "Anything"),
            None,
            "not published"
        );
        assert_eq!(unknown_value_warning("name", "x"), None);
    }
}
