//! Host functions as plain Rust closures: each parameter is taken from one Lua argument
//! and each result becomes one Lua value, so `|key: String| -> Option<String>` is a host
//! function that Lua calls as `host.kv_get("k")` and that returns a string or nil.
//!
//! - parameters ([`FromLua`]): `bool`, integers, `f64`, `String`, `Vec<u8>` (any Lua
//!   string), [`LuaValue`] (any value, as a tree), [`Graph`] (any value, sharing and
//!   cycles kept), `Option<T>` (nil or absent is `None`); a last parameter of type
//!   `Vec<LuaValue>` takes all the remaining arguments;
//! - results ([`IntoResults`]): anything [`IntoLua`] (the same types, `&str` too) is one
//!   value; `()` is none, a tuple is several, `Vec<LuaValue>` is as many as it holds;
//!   `Result<T, E>` raises `E` (anything `Into<HostError>`) as a Lua error.
//!
//! A wrong argument is refused as Lua's own functions refuse one:
//! `bad argument #1 to 'kv_get' (string expected, got number)`.

use std::future::Future;
use std::sync::Arc;

use crate::functions::{AsyncFn, BoxedCall, HostError, HostFunctions, SyncFn};
use crate::value::{Graph, LuaValue, Node, ValueError, from_wit, to_wit};

/// A Rust value made from one Lua argument.
pub trait FromLua: Sized {
    fn from_lua(value: Graph) -> Result<Self, ArgError>;
}

/// A Rust value that becomes one Lua value.
pub trait IntoLua {
    fn into_lua(self) -> Graph;
}

/// Why an argument was refused; the caller adds which argument and which function.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgError {
    /// `T expected, got U`, as `luaL_typeerror` says it.
    Type {
        expected: &'static str,
        got: &'static str,
    },
    /// Any other reason, e.g. `number has no integer representation`.
    Other(String),
}

impl ArgError {
    fn expected(expected: &'static str, value: &Graph) -> ArgError {
        ArgError::Type {
            expected,
            got: type_name(value),
        }
    }
}

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArgError::Type { expected, got } => write!(f, "{expected} expected, got {got}"),
            ArgError::Other(reason) => f.write_str(reason),
        }
    }
}

/// Lua's name for the value's type, as `type` gives it (`no value` for a missing one).
fn type_name(value: &Graph) -> &'static str {
    match value.nodes.first() {
        None => "no value",
        Some(Node::Nil) => "nil",
        Some(Node::Boolean(_)) => "boolean",
        Some(Node::Integer(_) | Node::Number(_)) => "number",
        Some(Node::Text(_) | Node::Bytes(_)) => "string",
        Some(Node::Sequence(_) | Node::Table(_)) => "table",
    }
}

/// The root of a scalar value, taken out of its graph.
fn root(value: Graph) -> Node {
    value.nodes.into_iter().next().unwrap_or(Node::Nil)
}

fn scalar(node: Node) -> Graph {
    Graph { nodes: vec![node] }
}

impl FromLua for Graph {
    fn from_lua(value: Graph) -> Result<Graph, ArgError> {
        Ok(value)
    }
}

impl IntoLua for Graph {
    fn into_lua(self) -> Graph {
        self
    }
}

impl FromLua for LuaValue {
    fn from_lua(value: Graph) -> Result<LuaValue, ArgError> {
        from_wit(&value).map_err(|e: ValueError| ArgError::Other(e.to_string()))
    }
}

impl IntoLua for LuaValue {
    fn into_lua(self) -> Graph {
        to_wit(&self)
    }
}

impl FromLua for bool {
    fn from_lua(value: Graph) -> Result<bool, ArgError> {
        match value.nodes.first() {
            Some(Node::Boolean(b)) => Ok(*b),
            _ => Err(ArgError::expected("boolean", &value)),
        }
    }
}

impl IntoLua for bool {
    fn into_lua(self) -> Graph {
        scalar(Node::Boolean(self))
    }
}

impl FromLua for i64 {
    /// As `luaL_checkinteger`: an integer, or a float with an exact integer value.
    fn from_lua(value: Graph) -> Result<i64, ArgError> {
        match value.nodes.first() {
            Some(Node::Integer(n)) => Ok(*n),
            Some(Node::Number(x)) => float_to_integer(*x)
                .ok_or_else(|| ArgError::Other("number has no integer representation".into())),
            _ => Err(ArgError::expected("number", &value)),
        }
    }
}

/// `lua_Number` to `lua_Integer` as Lua converts: exactly, or not at all.
fn float_to_integer(x: f64) -> Option<i64> {
    // 2^63 is exact as a float; i64's range is [-2^63, 2^63).
    (x.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&x))
        .then_some(x as i64)
}

impl IntoLua for i64 {
    fn into_lua(self) -> Graph {
        scalar(Node::Integer(self))
    }
}

/// Narrower integers: an integer argument out of their range is refused.
macro_rules! narrow_integers {
    ($($t:ty),*) => {$(
        impl FromLua for $t {
            fn from_lua(value: Graph) -> Result<$t, ArgError> {
                let n = i64::from_lua(value)?;
                <$t>::try_from(n).map_err(|_| {
                    ArgError::Other(format!("{n} is out of range for {}", stringify!($t)))
                })
            }
        }

        impl IntoLua for $t {
            fn into_lua(self) -> Graph {
                scalar(Node::Integer(i64::from(self)))
            }
        }
    )*};
}

narrow_integers!(i8, i16, i32, u8, u16, u32);

/// Unsigned integers as wide as Lua's: taken when not negative; given as an integer when
/// they fit one, else as the nearest float (Lua has no larger integers).
macro_rules! wide_unsigned {
    ($($t:ty),*) => {$(
        impl FromLua for $t {
            fn from_lua(value: Graph) -> Result<$t, ArgError> {
                let n = i64::from_lua(value)?;
                <$t>::try_from(n).map_err(|_| {
                    ArgError::Other(format!("{n} is out of range for {}", stringify!($t)))
                })
            }
        }

        impl IntoLua for $t {
            fn into_lua(self) -> Graph {
                scalar(i64::try_from(self).map_or(Node::Number(self as f64), Node::Integer))
            }
        }
    )*};
}

wide_unsigned!(u64, usize);

impl FromLua for f64 {
    fn from_lua(value: Graph) -> Result<f64, ArgError> {
        match value.nodes.first() {
            Some(Node::Number(x)) => Ok(*x),
            Some(Node::Integer(n)) => Ok(*n as f64),
            _ => Err(ArgError::expected("number", &value)),
        }
    }
}

impl IntoLua for f64 {
    fn into_lua(self) -> Graph {
        scalar(Node::Number(self))
    }
}

impl FromLua for String {
    /// A Lua string that is UTF-8 (take `Vec<u8>` for any string).
    fn from_lua(value: Graph) -> Result<String, ArgError> {
        match value.nodes.first() {
            Some(Node::Text(_)) => match root(value) {
                Node::Text(s) => Ok(s),
                _ => unreachable!("the root was text"),
            },
            Some(Node::Bytes(_)) => Err(ArgError::Other("string is not UTF-8".into())),
            _ => Err(ArgError::expected("string", &value)),
        }
    }
}

impl IntoLua for String {
    fn into_lua(self) -> Graph {
        scalar(Node::Text(self))
    }
}

impl IntoLua for &str {
    fn into_lua(self) -> Graph {
        scalar(Node::Text(self.to_owned()))
    }
}

impl FromLua for Vec<u8> {
    fn from_lua(value: Graph) -> Result<Vec<u8>, ArgError> {
        if !matches!(value.nodes.first(), Some(Node::Text(_) | Node::Bytes(_))) {
            return Err(ArgError::expected("string", &value));
        }
        match root(value) {
            Node::Text(s) => Ok(s.into_bytes()),
            Node::Bytes(b) => Ok(b),
            _ => unreachable!("the root was a string"),
        }
    }
}

impl IntoLua for Vec<u8> {
    fn into_lua(self) -> Graph {
        to_wit(&LuaValue::String(self))
    }
}

impl IntoLua for &[u8] {
    fn into_lua(self) -> Graph {
        self.to_vec().into_lua()
    }
}

impl<T: FromLua> FromLua for Option<T> {
    fn from_lua(value: Graph) -> Result<Option<T>, ArgError> {
        match value.nodes.first() {
            None | Some(Node::Nil) => Ok(None),
            Some(_) => T::from_lua(value).map(Some),
        }
    }
}

impl<T: IntoLua> IntoLua for Option<T> {
    fn into_lua(self) -> Graph {
        self.map_or_else(|| scalar(Node::Nil), T::into_lua)
    }
}

/// A host function's arguments, taken one parameter at a time.
pub struct Args {
    values: std::vec::IntoIter<Graph>,
    position: usize,
    function: Arc<str>,
}

impl Args {
    fn new(function: Arc<str>, values: Vec<Graph>) -> Args {
        Args {
            values: values.into_iter(),
            position: 0,
            function,
        }
    }

    /// The next argument; a missing one is an empty graph (`type_name`: "no value").
    fn next(&mut self) -> Graph {
        self.position += 1;
        self.values.next().unwrap_or(Graph { nodes: Vec::new() })
    }

    /// `bad argument #n to 'f' (reason)`, as `luaL_argerror` words it.
    fn refuse(&self, reason: ArgError) -> HostError {
        HostError::new(format!(
            "bad argument #{} to '{}' ({reason})",
            self.position, self.function
        ))
    }
}

/// One parameter of a host function.
pub trait Param: Sized {
    fn take(args: &mut Args) -> Result<Self, HostError>;
}

impl<T: FromLua> Param for T {
    fn take(args: &mut Args) -> Result<T, HostError> {
        let value = args.next();
        T::from_lua(value).map_err(|e| args.refuse(e))
    }
}

/// The remaining arguments, however many.
impl Param for Vec<LuaValue> {
    fn take(args: &mut Args) -> Result<Vec<LuaValue>, HostError> {
        let mut rest = Vec::new();
        while args.values.len() > 0 {
            let value = args.next();
            rest.push(LuaValue::from_lua(value).map_err(|e| args.refuse(e))?);
        }
        Ok(rest)
    }
}

/// What a host function returns, as Lua values.
pub trait IntoResults {
    fn into_results(self) -> Result<Vec<Graph>, HostError>;
}

impl<T: IntoLua> IntoResults for T {
    fn into_results(self) -> Result<Vec<Graph>, HostError> {
        Ok(vec![self.into_lua()])
    }
}

impl IntoResults for () {
    fn into_results(self) -> Result<Vec<Graph>, HostError> {
        Ok(Vec::new())
    }
}

impl IntoResults for Vec<LuaValue> {
    fn into_results(self) -> Result<Vec<Graph>, HostError> {
        Ok(self.iter().map(to_wit).collect())
    }
}

impl IntoResults for Vec<Graph> {
    fn into_results(self) -> Result<Vec<Graph>, HostError> {
        Ok(self)
    }
}

impl<T: IntoResults, E: Into<HostError>> IntoResults for Result<T, E> {
    fn into_results(self) -> Result<Vec<Graph>, HostError> {
        self.map_err(Into::into)?.into_results()
    }
}

macro_rules! several_results {
    ($($t:ident),*) => {
        impl<$($t: IntoLua),*> IntoResults for ($($t,)*) {
            #[allow(non_snake_case)]
            fn into_results(self) -> Result<Vec<Graph>, HostError> {
                let ($($t,)*) = self;
                Ok(vec![$($t.into_lua()),*])
            }
        }
    };
}

several_results!(A, B);
several_results!(A, B, C);
several_results!(A, B, C, D);

// Registering typed closures: here rather than in `functions`, which knows only the
// untyped calls these closures become.
impl HostFunctions {
    /// Adds (or replaces) the synchronous function `name`: a closure whose parameters and
    /// result convert from and to Lua values (see [`crate::typed`]). It runs on the thread
    /// driving the instance, so it must not block: use [`HostFunctions::add_async`] for
    /// anything that waits.
    pub fn add<M>(&mut self, name: &str, f: impl IntoHostFn<M>) -> &mut HostFunctions {
        self.insert_sync(name, f.into_host_fn(name));
        self
    }

    /// Adds (or replaces) the async function `name`: a closure returning a future. The
    /// instance waits for it (Lua sees a plain call), under the instance's wall-clock
    /// limit.
    pub fn add_async<M>(&mut self, name: &str, f: impl IntoAsyncHostFn<M>) -> &mut HostFunctions {
        self.insert_async(name, f.into_async_host_fn(name));
        self
    }

    /// [`HostFunctions::add`], by value: `HostFunctions::new().with("f", f)`.
    pub fn with<M>(mut self, name: &str, f: impl IntoHostFn<M>) -> HostFunctions {
        self.add(name, f);
        self
    }

    /// [`HostFunctions::add_async`], by value.
    pub fn with_async<M>(mut self, name: &str, f: impl IntoAsyncHostFn<M>) -> HostFunctions {
        self.add_async(name, f);
        self
    }
}

/// A closure usable as a synchronous host function. `Marker` is its parameter list, so
/// that closures of any arity qualify; it is inferred.
pub trait IntoHostFn<Marker> {
    fn into_host_fn(self, name: &str) -> Arc<SyncFn>;
}

/// A closure returning a future, usable as an async host function.
pub trait IntoAsyncHostFn<Marker> {
    fn into_async_host_fn(self, name: &str) -> Arc<AsyncFn>;
}

macro_rules! arities {
    ($($p:ident),*) => {
        impl<F, R, $($p),*> IntoHostFn<($($p,)*)> for F
        where
            F: Fn($($p),*) -> R + Send + Sync + 'static,
            R: IntoResults,
            $($p: Param,)*
        {
            #[allow(non_snake_case, unused_mut, unused_variables)]
            fn into_host_fn(self, name: &str) -> Arc<SyncFn> {
                let name: Arc<str> = name.into();
                Arc::new(move |values| {
                    let mut args = Args::new(name.clone(), values);
                    $(let $p = $p::take(&mut args)?;)*
                    (self)($($p),*).into_results()
                })
            }
        }

        impl<F, Fut, R, $($p),*> IntoAsyncHostFn<($($p,)*)> for F
        where
            F: Fn($($p),*) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoResults,
            $($p: Param,)*
        {
            // The closure called in place gives `?` a function to return from.
            #[allow(non_snake_case, unused_mut, unused_variables, clippy::redundant_closure_call)]
            fn into_async_host_fn(self, name: &str) -> Arc<AsyncFn> {
                let name: Arc<str> = name.into();
                Arc::new(move |values| -> BoxedCall {
                    let mut args = Args::new(name.clone(), values);
                    let taken = (|| Ok::<_, HostError>(($($p::take(&mut args)?,)*)))();
                    match taken {
                        Ok(($($p,)*)) => {
                            let future = (self)($($p),*);
                            Box::pin(async move { future.await.into_results() })
                        }
                        Err(e) => Box::pin(std::future::ready(Err(e))),
                    }
                })
            }
        }
    };
}

arities!();
arities!(A);
arities!(A, B);
arities!(A, B, C);
arities!(A, B, C, D);
arities!(A, B, C, D, E);
arities!(A, B, C, D, E, G);

#[cfg(test)]
mod tests {
    use super::*;

    fn call(f: &Arc<SyncFn>, args: Vec<LuaValue>) -> Result<Vec<LuaValue>, HostError> {
        let results = f(args.iter().map(to_wit).collect())?;
        Ok(results.iter().map(|g| from_wit(g).unwrap()).collect())
    }

    #[test]
    fn parameters_take_one_argument_each_and_missing_ones_are_nil() {
        let f = (|a: String, b: Option<i64>, c: f64| format!("{a} {b:?} {c}")).into_host_fn("f");
        let got = call(
            &f,
            vec![LuaValue::string("x"), LuaValue::Nil, LuaValue::Integer(2)],
        );
        assert_eq!(got.unwrap(), vec![LuaValue::string("x None 2")]);
        let missing = call(&f, vec![LuaValue::string("x")]).unwrap_err();
        assert_eq!(
            missing.message(),
            "bad argument #3 to 'f' (number expected, got no value)"
        );
        let wrong = call(&f, vec![LuaValue::Integer(1)]).unwrap_err();
        assert_eq!(
            wrong.message(),
            "bad argument #1 to 'f' (string expected, got number)"
        );
    }

    #[test]
    fn integers_convert_as_lua_converts_them() {
        let f = (|n: i64| n).into_host_fn("n");
        assert_eq!(
            call(&f, vec![LuaValue::Number(3.0)]).unwrap(),
            vec![LuaValue::Integer(3)]
        );
        let e = call(&f, vec![LuaValue::Number(3.5)]).unwrap_err();
        assert_eq!(
            e.message(),
            "bad argument #1 to 'n' (number has no integer representation)"
        );
        let e = call(&f, vec![LuaValue::Number(9.3e18)]).unwrap_err();
        assert!(e.message().contains("no integer representation"), "{e}");
        let small = (|n: u8| n).into_host_fn("small");
        let e = call(&small, vec![LuaValue::Integer(300)]).unwrap_err();
        assert_eq!(
            e.message(),
            "bad argument #1 to 'small' (300 is out of range for u8)"
        );
    }

    #[test]
    fn results_are_none_one_or_several_and_errors_are_host_errors() {
        let none = (|| ()).into_host_fn("none");
        assert_eq!(call(&none, vec![]).unwrap(), vec![]);
        let two = (|| (1i64, "two")).into_host_fn("two");
        assert_eq!(
            call(&two, vec![]).unwrap(),
            vec![LuaValue::Integer(1), LuaValue::string("two")]
        );
        let rest = (|first: i64, rest: Vec<LuaValue>| {
            let mut all = vec![LuaValue::Integer(first)];
            all.extend(rest);
            all
        })
        .into_host_fn("rest");
        let args = vec![LuaValue::Integer(1), LuaValue::Boolean(true), LuaValue::Nil];
        assert_eq!(call(&rest, args.clone()).unwrap(), args);
        let fails =
            (|key: String| -> Result<String, HostError> { Err(format!("no key {key}").into()) })
                .into_host_fn("fails");
        assert_eq!(
            call(&fails, vec![LuaValue::string("k")])
                .unwrap_err()
                .message(),
            "no key k"
        );
        let maybe = (|hit: bool| hit.then_some("yes")).into_host_fn("maybe");
        assert_eq!(
            call(&maybe, vec![LuaValue::Boolean(false)]).unwrap(),
            vec![LuaValue::Nil]
        );
        assert_eq!(
            call(&maybe, vec![LuaValue::Nil]).unwrap_err().message(),
            "bad argument #1 to 'maybe' (boolean expected, got nil)"
        );
    }

    #[test]
    fn strings_that_are_not_utf8_are_bytes() {
        let text = (|s: String| s).into_host_fn("text");
        let raw = LuaValue::String(vec![0xff, 0]);
        assert_eq!(
            call(&text, vec![raw.clone()]).unwrap_err().message(),
            "bad argument #1 to 'text' (string is not UTF-8)"
        );
        let bytes = (|b: Vec<u8>| b.into_iter().rev().collect::<Vec<u8>>()).into_host_fn("bytes");
        assert_eq!(
            call(&bytes, vec![raw]).unwrap(),
            vec![LuaValue::String(vec![0, 0xff])]
        );
    }
}
