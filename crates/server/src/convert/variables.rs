//! Variables between the wire and the store: names, values and tags checked with the core's
//! rules on the way in.

use flowgate_core::variables::{check_name, check_value};
use flowgate_store::model::{NewVariable, Variable, VariableUpdate};
use flowgate_wire::variables as wire;

use super::plain_texts;

/// A create body as a new variable, or why it cannot be one.
pub fn new_variable(body: wire::VariableCreate) -> Result<NewVariable, String> {
    check_name(&body.name)?;
    check_value(&body.value)?;
    check_tags(&body.tags)?;
    Ok(NewVariable {
        name: body.name,
        value: body.value,
        tags: body.tags,
    })
}

/// A PATCH body as an update, or why it cannot be one.
pub fn variable_update(body: wire::VariableUpdate) -> Result<VariableUpdate, String> {
    if let Some(name) = &body.name {
        check_name(name)?;
    }
    if let Some(value) = &body.value {
        check_value(value)?;
    }
    if let Some(tags) = &body.tags {
        check_tags(tags)?;
    }
    Ok(VariableUpdate {
        name: body.name,
        value: body.value,
        tags: body.tags,
    })
}

fn check_tags(tags: &[String]) -> Result<(), String> {
    plain_texts(tags.iter().map(|t| ("tags", Some(t.as_str()))))
}

/// A stored variable as the client reads it.
pub fn variable_out(v: Variable) -> wire::Variable {
    wire::Variable {
        id: v.id,
        created: v.created,
        updated: v.updated,
        name: v.name,
        value: v.value,
        tags: v.tags,
    }
}
