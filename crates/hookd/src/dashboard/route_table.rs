//! The dashboard's route list: every method and path it serves, readable as data.
//!
//! A page group declares its routes once, with [`page_routes!`], which writes both the group's
//! `routes()` (the axum router) and its `ROUTES` (the same paths and methods as a const table),
//! so the two cannot drift. [`crate::dashboard::route_table`] gathers every group's table; the
//! isolation matrix (`tests/it/isolation_matrix.rs`) iterates it, so a page added tomorrow is
//! checked for cross-tenant access without anyone remembering to add it.

/// One method and path the dashboard serves (an axum path template, e.g. `/endpoints/{id}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRoute {
    /// `GET` or `POST`.
    pub method: &'static str,
    pub path: &'static str,
}

/// Declares a page group's routes: `path => get(handler).post(handler)`, one line a path.
/// Expands to `pub const ROUTES: &[PageRoute]` and `pub fn routes() -> Router<Arc<AppState>>`.
macro_rules! page_routes {
    ($($path:expr => $first:ident($first_handler:expr) $(.$method:ident($handler:expr))*),+ $(,)?) => {
        /// This group's routes as data (see `dashboard/route_table.rs`).
        pub const ROUTES: &[$crate::dashboard::route_table::PageRoute] = &[$(
            $crate::dashboard::route_table::PageRoute {
                method: $crate::dashboard::route_table::page_routes!(@method $first),
                path: $path,
            },
            $($crate::dashboard::route_table::PageRoute {
                method: $crate::dashboard::route_table::page_routes!(@method $method),
                path: $path,
            },)*
        )+];

        /// This group's router, built from the same lines as [`ROUTES`].
        pub fn routes() -> axum::Router<std::sync::Arc<$crate::api::AppState>> {
            axum::Router::new()
                $(.route($path, axum::routing::$first($first_handler) $(.$method($handler))*))+
        }
    };
    (@method get) => { "GET" };
    (@method post) => { "POST" };
}

pub(crate) use page_routes;
