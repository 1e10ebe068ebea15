//! `spelled_enum!`: a fieldless enum with one wire spelling per variant, its `ALL` list, `as_str`
//! and a case-insensitive `parse`, so statuses and strategies are enums, never loose strings.

/// Declares a `Clone + Copy + Debug + Eq` enum whose variants each carry a wire spelling
/// (`Ready = "READY"`), with `ALL`, `as_str()` and case-insensitive `parse()`.
macro_rules! spelled_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $spelling:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $spelling, )+
                }
            }

            /// Parses the wire spelling, case-insensitively.
            pub fn parse(s: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s))
            }
        }

        /// On the wire: one of the spellings.
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({"type": "string", "enum": [$($spelling),+]})
            }
        }
    };
}

pub(crate) use spelled_enum;

#[cfg(test)]
mod tests {
    spelled_enum! {
        /// A test enum.
        enum Colour {
            /// Red.
            Red = "RED",
            /// Dark blue.
            DarkBlue = "DARK_BLUE",
        }
    }

    #[test]
    fn spellings_round_trip_case_insensitively() {
        for c in Colour::ALL {
            assert_eq!(Colour::parse(c.as_str()), Some(*c));
            assert_eq!(Colour::parse(&c.as_str().to_lowercase()), Some(*c));
        }
        assert_eq!(Colour::DarkBlue.as_str(), "DARK_BLUE");
        assert_eq!(Colour::parse("GREEN"), None);
    }
}
