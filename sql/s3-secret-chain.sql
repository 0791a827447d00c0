-- S3 credentials for an s3:// LAKE_DATA_PATH when AWS_ACCESS_KEY_ID is not set: the AWS credential chain (aws
-- extension) reads them itself from the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE, e.g. a
-- mounted secret), so they never pass through this process's configuration or SQL text.
CREATE OR REPLACE SECRET lake_s3 (
  TYPE s3,
  PROVIDER credential_chain,
  CHAIN 'env;config',
  REGION {{region}},
  ENDPOINT {{endpoint}},
  URL_STYLE {{url_style}},
  USE_SSL {{!use_ssl}}
);
