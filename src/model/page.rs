//! A page of a list, as every list endpoint answers it.
use serde::{Deserialize, Serialize};

pub const MAX_PAGE_SIZE: u32 = 100;
pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Matching rows on all pages; when `total_exact` is false, at least this many (the log
    /// list counts only as far as it serves: its newest 10,000 matching rows).
    pub total: u64,
    #[cfg_attr(feature = "ssr", schema(minimum = 1))]
    pub page: u32,
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100))]
    pub page_size: u32,
    /// 0 when nothing matches.
    pub total_pages: u32,
    /// False when `total` is a lower bound.
    #[serde(default = "exact")]
    pub total_exact: bool,
}

fn exact() -> bool {
    true
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, total: u64, page: u32, page_size: u32) -> Self {
        let total_pages = if total == 0 {
            0
        } else {
            total.div_ceil(page_size as u64) as u32
        };
        Self {
            items,
            total,
            page,
            page_size,
            total_pages,
            total_exact: true,
        }
    }

    /// A page of a list counted only up to `total`: more items may match.
    pub fn at_least(items: Vec<T>, total: u64, page: u32, page_size: u32) -> Self {
        Self {
            total_exact: false,
            ..Self::new(items, total, page, page_size)
        }
    }
}

/// `page` (1-based) and `page_size` from a query, clamped to what the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    pub page: u32,
    pub page_size: u32,
}

impl PageRequest {
    pub fn new(page: Option<u32>, page_size: Option<u32>) -> Result<Self, String> {
        let page = page.unwrap_or(1);
        let page_size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if page == 0 {
            return Err("page: must be 1 or more".into());
        }
        if page_size == 0 || page_size > MAX_PAGE_SIZE {
            return Err(format!("page_size: must be between 1 and {MAX_PAGE_SIZE}"));
        }
        Ok(Self { page, page_size })
    }

    pub fn offset(&self) -> i64 {
        (self.page as i64 - 1) * self.page_size as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_pages_round_up() {
        assert_eq!(Page::<u8>::new(vec![], 0, 1, 20).total_pages, 0);
        assert_eq!(Page::<u8>::new(vec![], 20, 1, 20).total_pages, 1);
        assert_eq!(Page::<u8>::new(vec![], 21, 1, 20).total_pages, 2);
    }

    #[test]
    fn page_requests_are_bounded() {
        assert_eq!(
            PageRequest::new(None, None).unwrap(),
            PageRequest {
                page: 1,
                page_size: 20
            }
        );
        assert_eq!(PageRequest::new(Some(3), Some(10)).unwrap().offset(), 20);
        assert!(PageRequest::new(Some(0), None)
            .unwrap_err()
            .starts_with("page:"));
        assert!(PageRequest::new(None, Some(101))
            .unwrap_err()
            .starts_with("page_size:"));
    }
}
