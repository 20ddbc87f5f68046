//! Paging of the list calls (`maxResults`, `pageToken`, `nextPageToken`). Items are listed in
//! the order of their key (a share's name; a table's schema and name), and a page token is
//! the last key of the page before, base64url-encoded: a page reads the same whether or not
//! items were added or removed since the last one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The most items one page holds, whatever `maxResults` asks.
pub const MAX_PAGE: usize = 1000;

/// The paging parameters of a list request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageRequest {
    #[serde(rename = "maxResults")]
    pub max_results: Option<i64>,
    #[serde(rename = "pageToken")]
    pub page_token: Option<String>,
}

/// One page of a list response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(rename = "nextPageToken", skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// Why paging parameters are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("maxResults must be a non-negative number, not {0}")]
    NegativeMax(i64),
    #[error("pageToken `{0}` is not one this server gave")]
    BadToken(String),
}

impl PageRequest {
    /// The page of `items` (sorted by `key`) this request asks for.
    pub fn page<T>(&self, items: Vec<T>, key: impl Fn(&T) -> String) -> Result<Page<T>, PageError> {
        let max = match self.max_results {
            Some(n) if n < 0 => return Err(PageError::NegativeMax(n)),
            Some(n) => (n as usize).min(MAX_PAGE),
            None => MAX_PAGE,
        };
        let after = match self.page_token.as_deref().filter(|t| !t.is_empty()) {
            Some(token) => Some(
                URL_SAFE_NO_PAD
                    .decode(token)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| PageError::BadToken(token.to_string()))?,
            ),
            None => None,
        };
        let mut rest: Vec<T> = items
            .into_iter()
            .filter(|item| after.as_ref().is_none_or(|a| key(item) > *a))
            .collect();
        let more = rest.len() > max;
        rest.truncate(max);
        let next_page_token = match rest.last() {
            Some(last) if more => Some(URL_SAFE_NO_PAD.encode(key(last))),
            // A page of zero items with more behind it: the next page starts where this one
            // did.
            None if more => Some(self.page_token.clone().unwrap_or_default()),
            _ => None,
        };
        Ok(Page {
            items: rest,
            next_page_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("t{i:03}")).collect()
    }

    proptest! {
        /// Following the tokens page by page lists every item once, in order.
        #[test]
        fn pages_cover_the_list_once(n in 0usize..60, max in 1i64..10) {
            let mut seen = Vec::new();
            let mut request = PageRequest { max_results: Some(max), page_token: None };
            loop {
                let page = request.page(names(n), |s| s.clone()).unwrap();
                prop_assert!(page.items.len() <= max as usize);
                seen.extend(page.items);
                match page.next_page_token {
                    Some(token) => request.page_token = Some(token),
                    None => break,
                }
            }
            prop_assert_eq!(seen, names(n));
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        let negative = PageRequest {
            max_results: Some(-1),
            page_token: None,
        };
        assert_eq!(
            negative.page(names(3), |s| s.clone()),
            Err(PageError::NegativeMax(-1))
        );
        let forged = PageRequest {
            max_results: None,
            page_token: Some("%%%".into()),
        };
        assert!(matches!(
            forged.page(names(3), |s| s.clone()),
            Err(PageError::BadToken(_))
        ));
    }
}
