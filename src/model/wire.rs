//! Enums that travel as strings (in JSON, in the database): each variant's spelling is written
//! once, and serde, `as_str`, `Display` and `FromStr` all use it.

/// A string that names none of an enum's variants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not one of {}", self.names())]
pub struct UnknownName {
    pub value: String,
    /// Every spelling, each followed by ", ".
    pub expected: &'static str,
}

impl UnknownName {
    /// The accepted spellings, comma-separated.
    pub fn names(&self) -> &'static str {
        self.expected.trim_end_matches(", ")
    }
}

/// `wire_enum! { pub enum Name { Variant = "spelling", ... } }`: a `Copy` enum with serde
/// (de)serialisation, `ALL`, `as_str`, `Display` and `FromStr`, all from the one spelling.
#[macro_export]
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $wire:tt),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling in JSON and in the database.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::model::wire::UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $(if s == $wire {
                    return Ok($name::$variant);
                })+
                Err($crate::model::wire::UnknownName {
                    value: s.to_owned(),
                    expected: concat!($($wire, ", "),+),
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::wire_enum! {
        /// A test enum.
        #[derive(Default)]
        pub enum Colour {
            #[default]
            DarkRed = "dark_red",
            Blue = "blue",
        }
    }

    #[test]
    fn one_spelling_everywhere() {
        for c in Colour::ALL {
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<Colour>(&json).unwrap(), *c);
            assert_eq!(c.as_str().parse::<Colour>().unwrap(), *c);
            assert_eq!(c.to_string(), c.as_str());
        }
        assert_eq!(Colour::default(), Colour::DarkRed);
        let e = "DarkRed".parse::<Colour>().unwrap_err();
        assert_eq!(e.value, "DarkRed");
        assert_eq!(e.to_string(), r#""DarkRed" is not one of dark_red, blue"#);
        assert!(serde_json::from_str::<Colour>("\"DarkRed\"").is_err());
    }
}
