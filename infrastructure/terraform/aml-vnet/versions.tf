terraform {
  required_version = ">= 1.12.0, < 2.0.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "= 4.20.0"
    }
  }

  # Remote state, one storage account per environment (only that environment's identity may
  # write it); the settings live in env/<env>.azurerm.tfbackend (partial configuration):
  #   terraform init -backend-config=env/dev.azurerm.tfbackend
  # The backend authenticates like the provider (ARM_USE_OIDC, ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID:
  # hashicorp/terraform internal/backend/remote-state/azure/backend.go), hence Terraform >= 1.12.
  backend "azurerm" {}
}

# azurerm 4.20.0 (internal/provider/provider.go: ado_pipeline_service_connection_id) refreshes the
# Azure DevOps OIDC token itself, so a long apply outlives the 10-minute idToken; the pipeline
# template sets ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID / ARM_OIDC_REQUEST_TOKEN / _URL.
# subscription_id comes from ARM_SUBSCRIPTION_ID (required since azurerm 4.0).
provider "azurerm" {
  features {
    # Never call the storage data plane (queue/blob service properties, containers): it is
    # private. internal/provider/features.go (storage.data_plane_available) and
    # internal/services/storage/storage_account_resource.go at v4.20.0 skip those reads and
    # refuse queue_properties when it is false.
    storage {
      data_plane_available = false
    }
  }
  storage_use_azuread = true
  # The resource providers are registered once at bootstrap (infrastructure/README.md), so a
  # read-only plan identity can plan: registering is a subscription-level write
  # (website/docs/index.html.markdown at v4.20.0: resource_provider_registrations).
  resource_provider_registrations = "none"
}
