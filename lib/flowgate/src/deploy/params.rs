//! A deployed flow's arguments as the server sees them: one JSON object, with the JSON Schema
//! it is checked against generated from the arguments' types (`schemars`), and read back into
//! the typed arguments when a worker or a serving process runs the flow.
//!
//! `#[flow]` records only each argument's name; the types come in as the tuple `A` of
//! [`crate::Deployment<A>`], and [`FlowParameters`] (implemented for tuples of up to twelve
//! `Deserialize + JsonSchema` types) is required only where a deployment is applied, served or
//! run, so flows whose arguments cannot be deployed still compile.

use schemars::{JsonSchema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// The arguments of a flow that can be deployed: each `serde::Deserialize` (runs carry them as
/// JSON) and `schemars::JsonSchema` (the server checks runs against their schema).
#[diagnostic::on_unimplemented(
    message = "a deployed flow's arguments must each be `serde::Deserialize` and `schemars::JsonSchema` (schemars 1): `{Self}` are not",
    label = "this flow's arguments cannot be read from a run's parameters",
    note = "derive both on your argument types: `#[derive(Serialize, Deserialize, flowgate::schemars::JsonSchema)]` (with `#[schemars(crate = \"flowgate::schemars\")]`, or `schemars = \"1\"` in Cargo.toml)"
)]
pub trait FlowParameters: Sized + Send + 'static {
    /// The JSON Schema of the arguments as one object whose properties are named `names`.
    fn schema(names: &[&str]) -> Value;
    /// The arguments read from a run's parameters; `Err` names the parameter and the problem.
    fn from_json(names: &[&str], parameters: &Map<String, Value>) -> Result<Self, String>;
    /// Checks that each of `given` (some of the arguments, e.g. a deployment's defaults) can be
    /// read as its argument's type, naming the first that cannot.
    fn check_some(names: &[&str], given: &Map<String, Value>) -> Result<(), String>;
}

/// One argument's value: absent reads as `null`, so an `Option` argument may be left out.
fn read<T: DeserializeOwned>(name: &str, parameters: &Map<String, Value>) -> Result<T, String> {
    let value = parameters.get(name).cloned().unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|e| match parameters.get(name) {
        None => format!("parameter `{name}` is missing"),
        Some(_) => format!("parameter `{name}`: {e}"),
    })
}

/// Whether an argument may be left out: its type reads `null` (an `Option`, `()`).
fn optional<T: DeserializeOwned>() -> bool {
    serde_json::from_value::<T>(Value::Null).is_ok()
}

/// One property of the parameters' schema, with Prefect's `title` and `position`.
fn property<T: JsonSchema>(generator: &mut SchemaGenerator, name: &str, position: usize) -> Value {
    let mut schema = generator.subschema_for::<T>().to_value();
    if let Value::Object(map) = &mut schema {
        map.entry("title").or_insert_with(|| json!(name));
        map.insert("position".to_owned(), json!(position));
    } else {
        // `true` (anything): keep it as an object so the fields can sit beside it.
        schema = json!({"title": name, "position": position});
    }
    schema
}

/// The object schema around the properties (no unknown parameters: a misspelt one is refused).
fn object(properties: Map<String, Value>, required: Vec<&str>, defs: Map<String, Value>) -> Value {
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Parameters",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    });
    if !defs.is_empty() {
        schema["$defs"] = Value::Object(defs);
    }
    schema
}

macro_rules! tuple_parameters {
    ($($t:ident $i:tt),*) => {
        impl<$($t: DeserializeOwned + JsonSchema + Send + 'static),*> FlowParameters for ($($t,)*) {
            #[allow(unused_mut, unused_variables)]
            fn schema(names: &[&str]) -> Value {
                let mut generator = SchemaGenerator::default();
                let mut properties = Map::new();
                let mut required = Vec::new();
                $(
                    properties.insert(names[$i].to_owned(), property::<$t>(&mut generator, names[$i], $i));
                    if !optional::<$t>() {
                        required.push(names[$i]);
                    }
                )*
                object(properties, required, generator.take_definitions(true))
            }

            #[allow(unused_variables)]
            fn from_json(names: &[&str], parameters: &Map<String, Value>) -> Result<Self, String> {
                if let Some(unknown) = parameters.keys().find(|k| !names.contains(&k.as_str())) {
                    return Err(format!(
                        "parameter `{unknown}` is not an argument of the flow (its arguments: {})",
                        names.join(", ")
                    ));
                }
                Ok(($(read::<$t>(names[$i], parameters)?,)*))
            }

            #[allow(unused_variables)]
            fn check_some(names: &[&str], given: &Map<String, Value>) -> Result<(), String> {
                if let Some(unknown) = given.keys().find(|k| !names.contains(&k.as_str())) {
                    return Err(format!(
                        "parameter `{unknown}` is not an argument of the flow (its arguments: {})",
                        names.join(", ")
                    ));
                }
                $(
                    if given.contains_key(names[$i]) {
                        read::<$t>(names[$i], given)?;
                    }
                )*
                Ok(())
            }
        }
    };
}

tuple_parameters!();
tuple_parameters!(A 0);
tuple_parameters!(A 0, B 1);
tuple_parameters!(A 0, B 1, C 2);
tuple_parameters!(A 0, B 1, C 2, D 3);
tuple_parameters!(A 0, B 1, C 2, D 3, E 4);
tuple_parameters!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_parameters!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_parameters!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_parameters!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_parameters!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_parameters!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_parameters!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize, JsonSchema, Debug, PartialEq)]
    enum Size {
        Small,
        Large,
    }

    type Args = (String, Option<u32>, Size);
    const NAMES: &[&str] = &["who", "times", "size"];

    #[test]
    fn the_schema_names_each_argument_and_requires_all_but_options() {
        let schema = Args::schema(NAMES);
        assert_eq!(schema["properties"]["who"]["type"], "string");
        assert_eq!(schema["properties"]["who"]["position"], 0);
        assert_eq!(schema["properties"]["size"]["$ref"], "#/$defs/Size");
        assert!(schema["$defs"]["Size"].is_object(), "{schema:#}");
        assert_eq!(schema["required"], json!(["who", "size"]));
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn parameters_read_back_into_the_arguments_and_name_what_is_wrong() {
        let given = json!({"who": "Ada", "size": "Large"});
        let read = Args::from_json(NAMES, given.as_object().unwrap()).unwrap();
        assert_eq!(read, ("Ada".to_owned(), None, Size::Large));
        let missing = Args::from_json(NAMES, json!({"size": "Small"}).as_object().unwrap());
        assert_eq!(missing.unwrap_err(), "parameter `who` is missing");
        let wrong = Args::from_json(
            NAMES,
            json!({"who": 1, "size": "Small"}).as_object().unwrap(),
        );
        assert!(
            wrong
                .unwrap_err()
                .starts_with("parameter `who`: invalid type")
        );
        let unknown = Args::check_some(NAMES, json!({"whom": "x"}).as_object().unwrap());
        assert!(unknown.unwrap_err().contains("`whom` is not an argument"));
        assert!(Args::check_some(NAMES, json!({"times": 3}).as_object().unwrap()).is_ok());
    }
}
