-- S3 credentials for an s3:// LAKE_DATA_PATH, from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.
CREATE OR REPLACE SECRET lake_s3 (
  TYPE s3,
  KEY_ID {{key_id}},
  SECRET {{secret}},
  SESSION_TOKEN {{session_token}},
  REGION {{region}},
  ENDPOINT {{endpoint}},
  URL_STYLE {{url_style}},
  USE_SSL {{!use_ssl}}
);
