terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "= 4.14.0"
    }
    azapi = {
      source  = "Azure/azapi"
      version = "= 2.2.0"
    }
  }

  # Remote state in an Azure Storage container; the per-environment settings live in
  # env/<env>.azurerm.tfbackend (partial configuration):
  #   terraform init -backend-config=env/dev.azurerm.tfbackend
  backend "azurerm" {}
}

provider "azurerm" {
  features {}
  storage_use_azuread = true
}

provider "azapi" {}
