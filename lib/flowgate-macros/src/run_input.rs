//! `#[derive(RunInput)]`: implements `flowgate::RunInput`, after a check that names what is
//! missing when the type does not also derive schemars 1's `JsonSchema`.

use proc_macro2::TokenStream as Tokens;
use quote::quote;

pub fn run_input(input: syn::DeriveInput) -> syn::Result<Tokens> {
    let mut validator: Option<syn::Path> = None;
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("run_input"))
    {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("validate") {
                validator = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta.error("unknown #[run_input] option; expected `validate = path::to_fn`"))
            }
        })?;
    }
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "#[derive(RunInput)] types cannot be generic",
        ));
    }
    let name = &input.ident;
    let validate = validator.map(|path| {
        quote! {
            fn validate(&self) -> ::core::result::Result<(), ::std::string::String> {
                #path(self)
            }
        }
    });
    Ok(quote! {
        const _: () = {
            // Says what to add when `JsonSchema` is missing (or comes from another schemars).
            fn derives_json_schema<T: ::flowgate::__private::DerivesJsonSchema>() {}
            fn check() {
                derives_json_schema::<#name>();
            }
        };

        impl ::flowgate::RunInput for #name {
            #validate
        }
    })
}
