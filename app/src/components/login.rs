//! The sign-in page: a plain HTML form posting to `/auth/login`, so it works before (or without) WASM.
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let failed = move || query.read().get("error").is_some();
    view! {
        <main class="centered">
            <form class="login" method="post" action="/auth/login">
                <h1>"Lookout"</h1>
                <p class="muted">"Sign in to watch this host live."</p>
                <Show when=failed>
                    <p class="error" role="alert">"Wrong user name or password."</p>
                </Show>
                <label>"User name" <input name="username" autocomplete="username" value="admin" required/></label>
                <label>"Password" <input name="password" type="password" autocomplete="current-password" required/></label>
                <button type="submit">"Sign in"</button>
            </form>
        </main>
    }
}
