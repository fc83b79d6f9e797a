//! The JSON Schema (draft 2020-12) of mapping files, printed by `referral-sync mapping-schema`
//! so that editors (Taplo, Even Better TOML) can complete and check mapping files.

use serde_json::{Value, json};

use super::spec::TYPES;
use super::targets::{Field, Kind, REFERRAL};

/// The schema of a mapping file.
pub fn json_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/referral-sync/referral-sync/mapping.schema.json",
        "title": "referral-sync mapping file",
        "description": "Turns rows of a CRM export into Partner Center Referral payloads. See mappings/README.md.",
        "type": "object",
        "additionalProperties": false,
        "required": ["external_id", "fields"],
        "properties": {
            "version": { "const": 1 },
            "description": { "type": "string" },
            "external_id": {
                "description": "The column or template that becomes externalReferenceId, the sync key. Must be unique and stable per row.",
                "$ref": "#/$defs/value"
            },
            "fields": object_schema(REFERRAL),
            "connected": {
                "description": "Fields of the connected Microsoft referral of a Shared referral (target, inviteContext.notes, inviteContext.assistanceRequestCode).",
                "$ref": "#/$defs/referral"
            },
            "filter": {
                "type": "array",
                "items": { "$ref": "#/$defs/filter" }
            },
            "lookups": {
                "type": "object",
                "additionalProperties": { "$ref": "#/$defs/lookup" }
            },
            "tables": {
                "type": "object",
                "additionalProperties": { "$ref": "#/$defs/table" }
            },
            "pull": {
                "description": "The CRM columns of a pull file, in file order: each key a column header, each value a path of the pull record (the referral as the API returns it, plus `sync`). `inbound` holds the columns of the inbound file.",
                "type": "object",
                "properties": {
                    "inbound": {
                        "type": "object",
                        "additionalProperties": { "$ref": "#/$defs/pullColumn" }
                    }
                },
                "additionalProperties": { "$ref": "#/$defs/pullColumn" }
            }
        },
        "$defs": {
            "referral": object_schema(REFERRAL),
            "value": value_schema(),
            "filter": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "column": { "type": "string" },
                    "lookup": { "type": "string" },
                    "template": { "type": "string" },
                    "equals": { "$ref": "#/$defs/strings" },
                    "in": { "$ref": "#/$defs/strings" },
                    "not_in": { "$ref": "#/$defs/strings" },
                    "not_empty": { "type": "boolean" },
                    "reason": { "type": "string" }
                }
            },
            "lookup": {
                "type": "object",
                "additionalProperties": false,
                "required": ["file", "key", "on"],
                "properties": {
                    "file": { "type": "string", "description": "Relative to the mapping file; `--lookup NAME=PATH` overrides it." },
                    "key": { "type": "string", "description": "The key column of the lookup file." },
                    "on": { "type": "string", "description": "The input column holding the key." }
                }
            },
            "table": {
                "type": "object",
                "additionalProperties": false,
                "required": ["values"],
                "properties": {
                    "values": { "type": "object" },
                    "default": {}
                }
            },
            "pullColumn": pull_column_schema(),
            "strings": {
                "oneOf": [
                    { "type": "string" },
                    { "type": "array", "items": { "type": "string" } }
                ]
            }
        }
    })
}

fn value_schema() -> Value {
    json!({
        "oneOf": [
            { "type": "string", "description": "A column of the input." },
            { "type": ["number", "boolean"], "description": "A literal." },
            {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "column": { "type": "string" },
                    "lookup": { "type": "string" },
                    "value": {},
                    "template": { "type": "string", "description": "Text with {Column} references; {{ and }} for braces." },
                    "type": { "enum": TYPES },
                    "format": { "$ref": "#/$defs/strings" },
                    "timezone": { "type": "string" },
                    "decimal_comma": { "type": "boolean" },
                    "true": { "$ref": "#/$defs/strings" },
                    "false": { "$ref": "#/$defs/strings" },
                    "map": {
                        "oneOf": [
                            { "type": "string", "description": "A [tables] name, or the built-in `country` or `currency`." },
                            { "type": "object" }
                        ]
                    },
                    "map_default": {},
                    "default": {},
                    "required": { "type": "boolean" },
                    "split": { "type": "string" },
                    "item": { "type": "object" }
                }
            }
        ]
    })
}

fn pull_column_schema() -> Value {
    json!({
        "oneOf": [
            { "type": "string", "description": "A path of the pull record: `status`, `details.dealValue`, `sync.changed`, `customerProfile.team[0].email`." },
            { "type": ["number", "boolean"], "description": "A literal." },
            {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "path": { "type": "string" },
                    "template": { "type": "string", "description": "Text with {path} references; {{ and }} for braces." },
                    "value": { "type": ["string", "number", "boolean"] },
                    "map": {
                        "oneOf": [
                            { "type": "string", "description": "A [tables] name." },
                            { "type": "object" }
                        ]
                    },
                    "map_default": { "type": ["string", "number", "boolean"] },
                    "default": { "type": ["string", "number", "boolean"] },
                    "format": { "type": "string", "description": "strftime format for a date-time value." },
                    "timezone": { "type": "string" },
                    "decimals": { "type": "integer", "minimum": 0, "maximum": 10 },
                    "decimal_comma": { "type": "boolean" },
                    "true": { "type": "string" },
                    "false": { "type": "string" },
                    "after_last": { "type": "string", "description": "Take the text after the last occurrence of this separator." },
                    "before_last": { "type": "string", "description": "Take the text before the last occurrence of this separator." }
                }
            }
        ]
    })
}

fn object_schema(fields: &'static [Field]) -> Value {
    let mut props = serde_json::Map::new();
    for field in fields {
        if field.name == "externalReferenceId" {
            continue;
        }
        let schema = match field.kind {
            Kind::Object(inner) => {
                json!({ "anyOf": [object_schema(inner), { "$ref": "#/$defs/value" }] })
            }
            Kind::Array(inner) => json!({
                "anyOf": [
                    { "type": "array", "items": object_schema(inner) },
                    { "$ref": "#/$defs/value" }
                ]
            }),
            Kind::Str | Kind::Enum | Kind::Known | Kind::Number | Kind::Bool | Kind::DateTime => {
                json!({ "$ref": "#/$defs/value" })
            }
        };
        props.insert(field.name.to_string(), schema);
    }
    json!({ "type": "object", "additionalProperties": false, "properties": props })
}
