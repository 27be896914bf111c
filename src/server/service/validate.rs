//! Field checks shared by the services; every message starts with the field's name.
use crate::server::error::ApiError;

pub fn invalid(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::Invalid(format!("{field}: {why}"))
}

/// A trimmed, non-empty string of at most `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(invalid(field, format!("must be at most {max} characters")));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(v.to_string())
}

/// An optional free text: empty means none.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.chars().count() > max => {
            Err(invalid(field, format!("must be at most {max} characters")))
        }
        Some(v) => Ok(Some(v.to_string())),
    }
}

pub fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    field: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ApiError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(invalid(
            field,
            format!("must be between {} and {}", range.start(), range.end()),
        ))
    }
}

/// A list of ids without blanks or duplicates, order kept.
pub fn id_list(field: &str, ids: &[String]) -> Result<Vec<String>, ApiError> {
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
