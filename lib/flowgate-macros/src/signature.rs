//! The annotated function's signature: what `#[task]` and `#[flow]` accept, and a sentence
//! saying what to write instead for what they do not.

use quote::quote;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

use crate::options::Kind;

/// The annotated item, which must be a function.
pub fn function(kind: Kind, item: proc_macro2::TokenStream) -> syn::Result<ItemFn> {
    match syn::parse2::<syn::Item>(item)? {
        syn::Item::Fn(f) => Ok(f),
        other => Err(syn::Error::new_spanned(
            other,
            format!(
                "{0} goes on a function: `{0} fn name(x: T) -> R {{ ... }}`",
                kind.attr()
            ),
        )),
    }
}

/// One named, owned argument.
pub struct Arg {
    pub name: Ident,
    pub ty: Type,
}

/// The function's arguments, each named and owned.
pub fn arguments(kind: Kind, func: &ItemFn) -> syn::Result<Vec<Arg>> {
    let attr = kind.attr();
    func.sig
        .inputs
        .iter()
        .map(|input| match input {
            FnArg::Receiver(r) => Err(syn::Error::new_spanned(r, format!("{attr} functions cannot take `self`; write a free function and pass the value as an argument"))),
            FnArg::Typed(pt) => {
                let Pat::Ident(pat) = pt.pat.as_ref() else {
                    return Err(syn::Error::new_spanned(&pt.pat, format!("{attr} arguments must be named (`x: T`); destructure inside the function instead")));
                };
                if let Type::Reference(r) = pt.ty.as_ref() {
                    return Err(syn::Error::new_spanned(r, format!("{attr} arguments must be owned values (they are recorded and may run on another thread): take `String` instead of `&str`, `Vec<T>` instead of `&[T]`")));
                }
                Ok(Arg { name: pat.ident.clone(), ty: (*pt.ty).clone() })
            }
        })
        .collect()
}

/// Refuses signatures a recorded call cannot have.
pub fn check_signature(kind: Kind, func: &ItemFn) -> syn::Result<()> {
    let attr = kind.attr();
    let sig = &func.sig;
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            format!(
                "{attr} functions cannot be generic: each call is recorded with concrete argument types; write a non-generic wrapper"
            ),
        ));
    }
    if let Some(c) = &sig.constness {
        return Err(syn::Error::new_spanned(
            c,
            format!("{attr} functions cannot be `const`"),
        ));
    }
    if let Some(u) = &sig.unsafety {
        return Err(syn::Error::new_spanned(
            u,
            format!("{attr} functions cannot be `unsafe`"),
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new_spanned(
            v,
            format!("{attr} functions cannot be variadic"),
        ));
    }
    if let ReturnType::Type(_, ty) = &sig.output
        && let Type::ImplTrait(i) = ty.as_ref()
    {
        return Err(syn::Error::new_spanned(
            i,
            format!(
                "{attr} functions return a named type (it is recorded, and callers of `submit` name it): write the concrete type instead of `impl Trait`"
            ),
        ));
    }
    Ok(())
}

/// The declared return type, `()` when there is none.
pub fn return_type(func: &ItemFn) -> proc_macro2::TokenStream {
    match &func.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    }
}
