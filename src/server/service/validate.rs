//! Field checks shared by the services; every message starts with the field's name, and
//! carries a reason code the UI translates.
use crate::model::errors::FieldProblem;
use crate::server::error::ApiError;

/// `field` is wrong for the reason `reason` (a stable code), with `arg` for the message.
pub(crate) fn problem(
    field: &str,
    reason: &str,
    arg: Option<String>,
    why: impl std::fmt::Display,
) -> ApiError {
    ApiError::Field {
        problem: FieldProblem {
            field: field.into(),
            reason: reason.into(),
            arg,
        },
        detail: why.to_string(),
    }
}

/// A `name` must be unique: refused when `holder` (the id of the record that has it) is another
/// record than `except_id` (the one being edited). `what` names the kind ("an upstream").
pub(crate) fn name_free(
    holder: Option<&str>,
    except_id: Option<&str>,
    name: &str,
    what: &str,
) -> Result<(), ApiError> {
    match holder {
        Some(id) if Some(id) != except_id => Err(problem(
            "name",
            "taken",
            Some(name.to_string()),
            format!("{what} named {name:?} already exists"),
        )),
        _ => Ok(()),
    }
}

/// `field` is wrong in a way only the English detail explains.
pub(crate) fn invalid(field: &str, why: impl std::fmt::Display) -> ApiError {
    problem(field, "invalid", None, why)
}

/// A trimmed, non-empty string of at most `max` characters.
pub(crate) fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(problem(field, "required", None, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(too_long(field, max));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(v.to_string())
}

fn too_long(field: &str, max: usize) -> ApiError {
    problem(
        field,
        "too_long",
        Some(max.to_string()),
        format!("must be at most {max} characters"),
    )
}

/// An optional free text: empty means none.
pub(crate) fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.chars().count() > max => Err(too_long(field, max)),
        Some(v) => Ok(Some(v.to_string())),
    }
}

pub(crate) fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    field: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ApiError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        let limits = format!("{}–{}", range.start(), range.end());
        Err(problem(
            field,
            "out_of_range",
            Some(limits),
            format!("must be between {} and {}", range.start(), range.end()),
        ))
    }
}

/// A list of ids without blanks or duplicates, order kept.
pub(crate) fn id_list(field: &str, ids: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = id.trim();
        if id.is_empty() {
            return Err(invalid(field, "ids must not be empty"));
        }
        if !out.iter().any(|x| x == id) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}
