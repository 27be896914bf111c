//! An id with the name an admin knows it by: for pickers, filters and labels.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub id: String,
    pub name: String,
}

/// The name of `id` in `list`, else the id itself (a record deleted since).
pub fn name_of<'a>(list: &'a [Named], id: &'a str) -> &'a str {
    list.iter()
        .find(|n| n.id == id)
        .map_or(id, |n| n.name.as_str())
}
