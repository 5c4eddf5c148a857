import { describe, expect, it } from "vitest";
import { LAMBDA_POOL, lambdaPool } from "../../functions/lambda-pool.ts";

describe("the Lambda entry's pool settings", () => {
  it("apply in full when the connection string sets none", () => {
    expect(lambdaPool("mongodb://db.example.com:27017/")).toEqual(LAMBDA_POOL);
    expect(lambdaPool("mongodb+srv://u:p@cluster0.example.net/?retryWrites=true&w=majority")).toEqual(
      LAMBDA_POOL,
    );
  });

  it("leave out what the connection string sets, whatever its case", () => {
    expect(lambdaPool("mongodb+srv://cluster0.example.net/?MAXPOOLSIZE=20&maxIdleTimeMS=0")).toEqual({
      minPoolSize: 0,
    });
    expect(lambdaPool("mongodb://a,b,c/?replicaSet=rs0&minpoolsize=1")).toEqual({
      maxPoolSize: LAMBDA_POOL.maxPoolSize,
      maxIdleTimeMS: LAMBDA_POOL.maxIdleTimeMS,
    });
  });
});
