//! The Referrals API's string enums, each with an `Other` variant.
//!
//! Partner Center adds values without notice (substatus `Engaged`, salesStage `"100"`), so a
//! response must never fail to parse on a value this build does not know: it lands in
//! `Other(String)` and is written back verbatim. `VALUES` lists the documented spellings; the
//! validator and `allowed_values` read them from here, so there is one list per enum.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares a wire enum: variants, their exact spelling, `Other(String)`, and serde as a string.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this build does not know, kept verbatim so that it round-trips.
            Other(String),
        }

        impl $name {
            /// Every documented value, spelled as on the wire.
            pub const VALUES: &'static [&'static str] = &[$($wire),+];

            /// The value as on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(other) => other,
                }
            }

            /// Whether this is a documented value (not `Other`).
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $($wire => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Ok(Self::from(value.as_str()))
            }
        }
    };
}

wire_enum! {
    /// `status`. `None` means "not set"; the server decides.
    ReferralStatus {
        None = "None",
        New = "New",
        Active = "Active",
        Closed = "Closed",
    }
}

wire_enum! {
    /// `substatus`; which ones fit which status is in `validate::substatuses_of`.
    ReferralSubstatus {
        None = "None",
        Pending = "Pending",
        Received = "Received",
        Accepted = "Accepted",
        Won = "Won",
        Lost = "Lost",
        Declined = "Declined",
        Expired = "Expired",
    }
}

wire_enum! {
    /// `type` (the docs call it ReferralType).
    ReferralType {
        /// All parties involved collaborate to close (co-sell).
        Shared = "Shared",
        /// Visible to one partner only.
        Independent = "Independent",
    }
}

wire_enum! {
    /// `qualification`.
    ReferralQualification {
        None = "None",
        /// Created by a customer.
        Direct = "Direct",
        MarketingQualified = "MarketingQualified",
        /// From a Microsoft seller.
        SalesQualified = "SalesQualified",
    }
}

wire_enum! {
    /// `direction`, set by the server.
    Direction {
        Incoming = "Incoming",
        Outgoing = "Outgoing",
    }
}

wire_enum! {
    /// `customerProfile.size`: number of employees (both the old and the new bands).
    CustomerSize {
        From1To50 = "1to50employees",
        From51To500 = "51to500employees",
        MoreThan500 = "Morethan500employees",
        From1To9 = "1to9employees",
        From10To50 = "10to50employees",
        From51To250 = "51to250employees",
        From251To1000 = "251to1000employees",
        From1001To5000 = "1001to5000employees",
        From5001To10000 = "5001to10000employees",
        From10001To20000 = "10001to20000employees",
        MoreThan20000 = "Morethan20000employees",
    }
}

wire_enum! {
    /// `customerProfile.ids[].profileType`.
    ProfileType {
        Duns = "Duns",
        External = "External",
    }
}

wire_enum! {
    /// `target[].type`.
    TargetType {
        None = "None",
        BusinessProfileLocation = "BusinessProfileLocation",
        SolutionProfile = "SolutionProfile",
    }
}

wire_enum! {
    /// `details.requirements.solutions[].type` (the docs call it SolutionType).
    SolutionType {
        None = "None",
        /// `id` is a category from the solutions taxonomy.
        Category = "Category",
        /// `id` is a co-sell solution id such as `SOL-34104-EBB`.
        Name = "Name",
    }
}

wire_enum! {
    /// `inviteContext.assistanceRequestCode`: how Microsoft can help.
    AssistanceRequestCode {
        Unknown = "Unknown",
        GeneralOrOther = "GeneralOrOther",
        CustomerTechnicalArchitecture = "CustomerTechnicalArchitecture",
        ProofOfConceptOrDemo = "ProofOfConceptOrDemo",
        QuotesOrLicensing = "QuotesOrLicensing",
        PostSalesCustomerSuccess = "PostSalesCustomerSuccess",
        WorkloadSpecificValueProposition = "WorkloadSpecificValueProposition",
    }
}
