/**
 * Types of the mini-program API, all DERIVED from ./openapi.d.ts (generated from the server's
 * OpenAPI document by `npm run gen:client`): nothing here restates a field by hand.
 */
import type { components, paths } from "./openapi";

export type Schemas = components["schemas"];
export type Order = Schemas["Order"];
export type OrderStatus = Order["status"];
export type Product = Schemas["Product"];
/** Exactly the arguments of wx.requestPayment, as the server signs them. */
export type RequestPayment = Schemas["RequestPayment"];
export type ApiErrorBody = Schemas["Error"];

export type Path = keyof paths;
export type Method = "get" | "post";

/** The methods a path really has (openapi-typescript marks the others `?: never`). */
export type MethodOf<P extends Path> = {
  [M in Method]: [NonNullable<paths[P][M]>] extends [never] ? never : M;
}[Method];

export type Operation<P extends Path, M extends MethodOf<P>> = NonNullable<paths[P][M]>;

type JsonOf<T> = T extends { content: { "application/json": infer B } } ? B : never;
type Responses<P extends Path, M extends MethodOf<P>> = Operation<P, M> extends { responses: infer R } ? R : never;
type SuccessStatus = 200 | 201;

/** The JSON body of a 2xx answer. */
export type ResponseOf<P extends Path, M extends MethodOf<P>> = JsonOf<Responses<P, M>[SuccessStatus & keyof Responses<P, M>]>;

/** The JSON request body, or `undefined` for operations without one. */
export type BodyOf<P extends Path, M extends MethodOf<P>> = Operation<P, M> extends { requestBody: infer B }
  ? JsonOf<B>
  : Operation<P, M> extends { requestBody?: infer B }
    ? JsonOf<NonNullable<B>> | undefined
    : undefined;

type ParametersOf<P extends Path, M extends MethodOf<P>> = Operation<P, M> extends { parameters: infer X } ? X : never;
type Section<X, K extends string> = X extends { [k in K]?: infer S } ? ([S] extends [never] ? undefined : [S] extends [undefined] ? undefined : S) : undefined;

export type PathParamsOf<P extends Path, M extends MethodOf<P>> = Section<ParametersOf<P, M>, "path">;
export type QueryOf<P extends Path, M extends MethodOf<P>> = Section<ParametersOf<P, M>, "query">;
export type HeadersOf<P extends Path, M extends MethodOf<P>> = Section<ParametersOf<P, M>, "header">;

// The answers the pages use, by operation.
export type LoginResponse = ResponseOf<"/v1/auth/login", "post">;
export type ProductList = ResponseOf<"/v1/products", "get">;
export type OrderWithPayment = ResponseOf<"/v1/orders", "post">;
export type OrderResponse = ResponseOf<"/v1/orders/{id}", "get">;
export type CreateOrderBody = BodyOf<"/v1/orders", "post">;
export type OrderLine = CreateOrderBody["items"][number];
