//! Browser entry point: hydrates the islands of the server-rendered Lookout UI.
// The islands are `#[wasm_bindgen]` exports of `app`: linking the crate keeps them.
#[allow(unused_imports)]
pub use app::components::islands::*;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Islands: only the interactive parts (`#[island]`) hydrate; the pages stay server-rendered.
    leptos::mount::hydrate_islands();
}
