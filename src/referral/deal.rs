//! `details`: the deal's value, currency, close date and what the customer needs.
//!
//! Split from `model` to keep each file readable; the same rules hold: every field optional
//! and skipped when `None`, unknown fields kept in `extra`. `dealValue` is kept as the exact
//! JSON number read (no float rounding) and a numeric string is accepted on the way in.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Number, Value};

use super::enums::SolutionType;

/// The deal: value, currency, close date, requirements. Required on create.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferralDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// A JSON number kept exactly as read (no float rounding); a numeric string is accepted
    /// when reading, as the API coerces one, and written back as a number.
    #[serde(
        default,
        deserialize_with = "deal_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub deal_value: Option<Number>,
    /// ISO 4217 code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// UTC ISO-8601, e.g. `2018-11-14T00:00:00Z`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closing_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirements: Option<ReferralRequirements>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_requested_contact: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incentive_level: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What the customer needs (the docs' "DealRequirements").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferralRequirements {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub industries: Option<Vec<Tag>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<Tag>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<Tag>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solutions: Option<Vec<SolutionTag>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offers: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sales_plays: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_requirements: Option<AdditionalRequirements>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An industry, product or service tag: `{ "id": "Manufacturing" }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A solution: a taxonomy category (`type: Category`) or a co-sell solution (`type: Name`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SolutionTag {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// On the wire `type` (the docs table says "SolutionType").
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub solution_type: Option<SolutionType>,
    /// The free-form `solutionType` (e.g. `"3P"`), distinct from `type`.
    #[serde(rename = "solutionType", skip_serializing_if = "Option::is_none")]
    pub solution_kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publisher_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closing_date_time: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `additionalRequirements`: IoT details and typed attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdditionalRequirements {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iot: Option<IotRequirements>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Vec<Attribute>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `additionalRequirements.iot`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IotRequirements {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_license_agreement_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silicon_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure_certified_device: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach_services: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A typed attribute, e.g. `{"id":"HaveNotDecided","type":"CustomerMarketplaceIntent"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub attribute_type: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `details.dealValue`: a number, or a string holding one (the API coerces `"10000"`).
fn deal_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Number>, D::Error> {
    use serde::de::Error as _;
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => Ok(Some(number)),
        Some(Value::String(text)) => parse_number(&text)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("dealValue: expected a number, got {text:?}"))),
        Some(other) => Err(D::Error::custom(format!(
            "dealValue: expected a number, got {other}"
        ))),
    }
}

/// A JSON number from text such as `"10000"` or `"1234.5"`; `None` if it is not one.
pub(crate) fn parse_number(text: &str) -> Option<Number> {
    let trimmed = text.trim();
    if let Ok(int) = trimmed.parse::<u64>() {
        return Some(Number::from(int));
    }
    if let Ok(int) = trimmed.parse::<i64>() {
        return Some(Number::from(int));
    }
    trimmed
        .parse::<f64>()
        .ok()
        .filter(|float| float.is_finite())
        .and_then(Number::from_f64)
}
