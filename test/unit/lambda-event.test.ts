/**
 * The Lambda events the tests invoke the bundle with (test/fixtures/lambda/, infra/build/lambda-process.ts)
 * are what infra/aws/template.yaml's routes deliver in payload format 2.0: the HTTP API's route is the
 * template's `ANY /{proxy+}`, whose greedy variable carries the path; a function URL's is `$default`,
 * with no path variables.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { greedyPathParameters, type LambdaEventV2, lambdaEvent } from "../../infra/build/lambda-process.ts";
import { REPO_ROOT } from "../../infra/devdb/ferretdb-build.ts";
import { loadTemplate } from "../helpers/cloudformation.ts";

const fixture = (name: string) =>
  JSON.parse(
    readFileSync(join(REPO_ROOT, "test", "fixtures", "lambda", `${name}.json`), "utf8"),
  ) as LambdaEventV2;
const httpApi = fixture("http-api-v2");
const functionUrl = fixture("function-url");

/** The HttpApi event of the template's function: its route key as API Gateway writes it. */
function templateRouteKey(): string {
  const template = loadTemplate(readFileSync(join(REPO_ROOT, "infra", "aws", "template.yaml"), "utf8"));
  const resources = template.Resources as Record<
    string,
    { Type: string; Properties: Record<string, unknown> }
  >;
  const fn = Object.values(resources).find((r) => r.Type === "AWS::Serverless::Function");
  const events = Object.values(
    (fn?.Properties.Events ?? {}) as Record<string, { Type: string; Properties: Record<string, string> }>,
  );
  const api = events.filter((e) => e.Type === "HttpApi");
  expect(api).toHaveLength(1);
  const { Method, Path } = api[0]?.Properties ?? {};
  return `${Method} ${Path}`;
}

describe("Lambda event fixtures", () => {
  it("the HTTP API event carries the template's route, and the path variable that route gives its path", () => {
    const routeKey = templateRouteKey();
    expect(routeKey).toBe("ANY /{proxy+}");
    expect(httpApi.routeKey).toBe(routeKey);
    expect(httpApi.requestContext.routeKey).toBe(routeKey);
    expect(httpApi.requestContext.http.path).toBe(httpApi.rawPath);
    expect(httpApi.pathParameters).toEqual(greedyPathParameters(routeKey, httpApi.rawPath));
    expect(httpApi.pathParameters).toEqual({ proxy: httpApi.rawPath.slice(1) });
  });

  it("the function-URL event has the $default route and no path variables", () => {
    expect(functionUrl.routeKey).toBe("$default");
    expect(functionUrl.requestContext.routeKey).toBe("$default");
    expect(functionUrl).not.toHaveProperty("pathParameters");
  });

  it("an event made for a request carries its path in rawPath, requestContext and (HTTP API) the proxy variable", () => {
    const url = "/v1/channels/lam%3Aroom/messages?x=1&x=2";
    const api = lambdaEvent(httpApi, { method: "POST", url, body: "{}" });
    expect(api).toMatchObject({
      routeKey: "ANY /{proxy+}",
      rawPath: "/v1/channels/lam%3Aroom/messages",
      rawQueryString: "x=1&x=2",
      queryStringParameters: { x: "1,2" },
      pathParameters: { proxy: "v1/channels/lam%3Aroom/messages" },
      requestContext: {
        routeKey: "ANY /{proxy+}",
        http: { method: "POST", path: "/v1/channels/lam%3Aroom/messages" },
      },
    });
    const viaUrl = lambdaEvent(functionUrl, { method: "POST", url, body: "{}" });
    expect(viaUrl.rawPath).toBe("/v1/channels/lam%3Aroom/messages");
    expect(viaUrl).not.toHaveProperty("pathParameters");
  });
});

describe("greedyPathParameters", () => {
  it("gives the rest of the path after the route's prefix", () => {
    expect(greedyPathParameters("ANY /{proxy+}", "/a/b")).toEqual({ proxy: "a/b" });
    expect(greedyPathParameters("GET /v1/{rest+}", "/v1/channels/x")).toEqual({ rest: "channels/x" });
    expect(greedyPathParameters("$default", "/")).toBeUndefined();
  });

  it("refuses a path its route would not deliver, and routes it does not model", () => {
    expect(() => greedyPathParameters("ANY /{proxy+}", "/")).toThrow(/does not match/);
    expect(() => greedyPathParameters("GET /v1/{rest+}", "/v2/x")).toThrow(/does not match/);
    expect(() => greedyPathParameters("GET /items/{id}", "/items/1")).toThrow(/only \$default and greedy/);
  });
});
