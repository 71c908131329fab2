# The Azure ML workspace and its services, private by default. Needs aml-registry-smi (once)
# and this environment's aml-vnet deployed first: it looks the registry, network, identities and
# DNS zones up by their scheme names.

module "naming" {
  source      = "../modules/naming"
  namespace   = var.namespace
  postfix     = var.postfix
  environment = var.environment
}

data "azurerm_client_config" "current" {}

data "azurerm_subscription" "current" {}

data "azurerm_resource_group" "env" {
  name = local.names.resource_group
}

data "azurerm_subnet" "private" {
  name                 = local.names.subnet
  virtual_network_name = local.names.virtual_network
  resource_group_name  = local.names.resource_group
}

data "azurerm_user_assigned_identity" "workspace" {
  name                = local.names.workspace_identity
  resource_group_name = local.names.resource_group
}

data "azurerm_user_assigned_identity" "compute" {
  name                = local.names.compute_identity
  resource_group_name = local.names.resource_group
}

data "azurerm_private_dns_zone" "zone" {
  for_each            = toset(flatten(values(local.private_dns_zones)))
  name                = each.value
  resource_group_name = local.names.resource_group
}

# The shared registry (aml-registry-smi), with the ids of its system-created storage account
# and container registry, which live in the registry's managed resource group.
data "azapi_resource" "registry" {
  type                   = "Microsoft.MachineLearningServices/registries@2024-10-01"
  name                   = local.names.registry
  parent_id              = "${data.azurerm_subscription.current.id}/resourceGroups/${local.names.registry_resource_group}"
  response_export_values = ["properties.regionDetails"]
}

locals {
  names = module.naming.names
  tags  = merge({ environment = var.environment, workload = var.namespace }, var.tags)

  # Built-in role definition GUIDs (identical in every tenant); the Bicep stack uses the same.
  role_ids = {
    "Azure AI Administrator"        = "b78c5d69-af96-48a3-bf8d-a8b4d589de94"
    "Azure AI Developer"            = "64702f94-c441-49e6-a78b-ef80e0188fee"
    "AzureML Compute Operator"      = "e503ece1-11d0-4e8e-8e2c-7a6c3bf38815"
    "AzureML Data Scientist"        = "f6c7c914-8db3-469d-8ca1-694a8f32e121"
    "Storage Blob Data Contributor" = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
    "Key Vault Secrets User"        = "4633458b-17de-408a-b874-0445c86b69e6"
    "AcrPull"                       = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
    # Identity-based system datastores (systemDatastoresAuthMode = Identity) reach the
    # workspace file share with this role instead of the account key
    # (https://learn.microsoft.com/azure/machine-learning/how-to-disable-local-auth-storage).
    "Storage File Data Privileged Contributor" = "69566ab7-960f-475b-8e7c-b3118f30c6bd"
  }

  # Who gets which role where. scope: workspace | storage | container_registry | resource_group;
  # principal: user (the team's user or group) | compute | workspace (identities).
  role_assignments = {
    user-ai-developer        = { principal = "user", role = "Azure AI Developer", scope = "workspace" }
    user-compute-operator    = { principal = "user", role = "AzureML Compute Operator", scope = "workspace" }
    user-data-scientist      = { principal = "user", role = "AzureML Data Scientist", scope = "workspace" }
    user-blob-contributor    = { principal = "user", role = "Storage Blob Data Contributor", scope = "storage" }
    user-file-contributor    = { principal = "user", role = "Storage File Data Privileged Contributor", scope = "storage" }
    compute-data-scientist   = { principal = "compute", role = "AzureML Data Scientist", scope = "resource_group" }
    compute-blob-contributor = { principal = "compute", role = "Storage Blob Data Contributor", scope = "resource_group" }
    compute-secrets-user     = { principal = "compute", role = "Key Vault Secrets User", scope = "resource_group" }
    # Jobs pull their environment images from the workspace registry as the compute identity.
    compute-acr-pull   = { principal = "compute", role = "AcrPull", scope = "container_registry" }
    workspace-ai-admin = { principal = "workspace", role = "Azure AI Administrator", scope = "resource_group" }
    workspace-blob     = { principal = "workspace", role = "Storage Blob Data Contributor", scope = "storage" }
    workspace-file     = { principal = "workspace", role = "Storage File Data Privileged Contributor", scope = "storage" }
  }

  principals = {
    user      = { id = var.user_object_id, type = var.user_principal_type }
    compute   = { id = data.azurerm_user_assigned_identity.compute.principal_id, type = "ServicePrincipal" }
    workspace = { id = data.azurerm_user_assigned_identity.workspace.principal_id, type = "ServicePrincipal" }
  }

  # The workspace identity's roles on the resource group and the storage account are granted
  # before the workspace exists: with identity-based system datastores and shared keys off, the
  # workspace reaches its storage with that identity from the start.
  bootstrap_scopes = {
    storage        = azurerm_storage_account.this.id
    resource_group = data.azurerm_resource_group.env.id
  }

  scopes = {
    workspace          = azapi_resource.workspace.id
    storage            = azurerm_storage_account.this.id
    container_registry = azurerm_container_registry.this.id
    resource_group     = data.azurerm_resource_group.env.id
  }

  # Private link sub-resource -> the aml-vnet private DNS zones its endpoint registers in.
  private_dns_zones = {
    amlworkspace = ["privatelink.api.azureml.ms", "privatelink.notebooks.azure.net"]
    blob         = ["privatelink.blob.core.windows.net"]
    file         = ["privatelink.file.core.windows.net"]
    queue        = ["privatelink.queue.core.windows.net"]
    table        = ["privatelink.table.core.windows.net"]
    vault        = ["privatelink.vaultcore.azure.net"]
    registry     = ["privatelink.azurecr.io"]
    amlregistry  = ["privatelink.api.azureml.ms"]
  }

  # A private registry is reached through its own endpoint and those of its system-created
  # storage and ACR (https://learn.microsoft.com/azure/machine-learning/how-to-registry-network-isolation).
  registry_region = data.azapi_resource.registry.output.properties.regionDetails[0]
  registry_endpoints = {
    amlregistry = data.azapi_resource.registry.id
    blob        = local.registry_region.storageAccountDetails[0].systemCreatedStorageAccount.armResourceId.resourceId
    registry    = local.registry_region.acrDetails[0].systemCreatedAcrAccount.armResourceId.resourceId
  }

  public_access = var.private_networking_enabled ? false : true

  # The managed network's approved outbound rules. FQDN: environment image builds install the
  # conda specs in data-science/environment (channel conda-forge, served by conda.anaconda.org)
  # and their pip sections (pypi.org, files.pythonhosted.org); FQDN rules make Azure ML deploy a
  # managed Azure Firewall (billed). Private endpoint: jobs and endpoints pull registry models
  # without public access. Azure ML adds the required service-tag rules and the private
  # endpoints to the workspace's own storage, Key Vault and ACR itself.
  # https://learn.microsoft.com/azure/machine-learning/how-to-managed-network
  # ("Scenario: Access public machine learning packages", "Private endpoint outbound rules").
  outbound_rules = {
    pypi         = { type = "FQDN", destination = "pypi.org" }
    pythonhosted = { type = "FQDN", destination = "files.pythonhosted.org" }
    conda-forge  = { type = "FQDN", destination = "conda.anaconda.org" }
    registry = {
      type = "PrivateEndpoint"
      destination = {
        serviceResourceId = data.azapi_resource.registry.id
        subresourceTarget = "amlregistry"
        sparkEnabled      = false
      }
    }
  }
}

resource "azurerm_log_analytics_workspace" "this" {
  name                = local.names.log_analytics
  location            = var.location
  resource_group_name = data.azurerm_resource_group.env.name
  sku                 = "PerGB2018"
  retention_in_days   = 30
  tags                = local.tags
}

resource "azurerm_application_insights" "this" {
  name                = local.names.application_insights
  location            = var.location
  resource_group_name = data.azurerm_resource_group.env.name
  workspace_id        = azurerm_log_analytics_workspace.this.id
  application_type    = "web"
  tags                = local.tags
}

resource "azurerm_storage_account" "this" {
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys; customer-managed keys need a key rotation process this template cannot own.
  #checkov:skip=CKV_AZURE_33:Queue read/write/delete logging is the diagnostic setting storage_queue_logs below (Azure Monitor), not the classic queue_properties.logging, which needs the private data plane.
  name                            = local.names.storage_account
  location                        = var.location
  resource_group_name             = data.azurerm_resource_group.env.name
  account_tier                    = "Standard"
  account_kind                    = "StorageV2"
  account_replication_type        = "GRS"
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false
  public_network_access_enabled   = length(var.allowed_ip_ranges) > 0 ? true : local.public_access
  local_user_enabled              = false
  # The workspace reaches its system datastores with identities (systemDatastoresAuthMode).
  shared_access_key_enabled = false
  tags                      = local.tags

  network_rules {
    default_action = var.private_networking_enabled ? "Deny" : "Allow"
    bypass         = ["AzureServices"]
    ip_rules       = var.allowed_ip_ranges
  }

  blob_properties {
    delete_retention_policy {
      days = 7
    }
    container_delete_retention_policy {
      days = 7
    }
  }

  sas_policy {
    expiration_period = "01.00:00:00"
    expiration_action = "Log"
  }
}

# Queue read/write/delete logs through Azure Monitor (the Bicep stack's queueLogs): a
# management-plane resource, unlike queue_properties, which azurerm writes through the private
# data plane and refuses with data_plane_available = false.
resource "azurerm_monitor_diagnostic_setting" "storage_queue_logs" {
  name                       = "queue-logs"
  target_resource_id         = "${azurerm_storage_account.this.id}/queueServices/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  enabled_log {
    category = "StorageRead"
  }
  enabled_log {
    category = "StorageWrite"
  }
  enabled_log {
    category = "StorageDelete"
  }
}

resource "azurerm_key_vault" "this" {
  name                          = local.names.key_vault
  location                      = var.location
  resource_group_name           = data.azurerm_resource_group.env.name
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  enable_rbac_authorization     = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = local.public_access
  tags                          = local.tags

  network_acls {
    default_action = var.private_networking_enabled ? "Deny" : "Allow"
    bypass         = "AzureServices"
  }
}

resource "azurerm_container_registry" "this" {
  #checkov:skip=CKV_AZURE_165:Geo-replication doubles the registry cost; single-region template, add georeplications for DR.
  #checkov:skip=CKV_AZURE_166:Quarantine holds every pushed image until a scanner marks it passed; no scanner releases images here, so Azure ML environment images would never reach jobs.
  name                          = local.names.container_registry
  location                      = var.location
  resource_group_name           = data.azurerm_resource_group.env.name
  sku                           = "Premium"
  admin_enabled                 = false
  anonymous_pull_enabled        = false
  public_network_access_enabled = local.public_access
  network_rule_bypass_option    = "AzureServices"
  data_endpoint_enabled         = true
  zone_redundancy_enabled       = true
  # Off on purpose: a quarantined image is unpullable until a scanner marks it passed, and
  # nothing here releases Azure ML's environment images (Defender for Containers scans pushed
  # images without quarantine). Pair it with a releasing scanner before turning it on.
  quarantine_policy_enabled = false
  retention_policy_in_days  = 7
  trust_policy_enabled      = true
  tags                      = local.tags
}

# The workspace through azapi, as the Azure Verified Module does: azurerm 4.20.0's
# azurerm_machine_learning_workspace has neither systemDatastoresAuthMode (identity-based
# datastores, so the storage account can refuse shared keys) nor provisionNetworkNow. Same type,
# API version and body as bicep/modules/workspace.bicep (tests/infrastructure checks both).
resource "azapi_resource" "workspace" {
  type      = "Microsoft.MachineLearningServices/workspaces@2024-10-01-preview"
  name      = local.names.workspace
  location  = var.location
  parent_id = data.azurerm_resource_group.env.id
  tags      = local.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [data.azurerm_user_assigned_identity.workspace.id]
  }

  body = {
    properties = {
      friendlyName                = local.names.workspace
      storageAccount              = azurerm_storage_account.this.id
      keyVault                    = azurerm_key_vault.this.id
      applicationInsights         = azurerm_application_insights.this.id
      containerRegistry           = azurerm_container_registry.this.id
      primaryUserAssignedIdentity = data.azurerm_user_assigned_identity.workspace.id
      publicNetworkAccess         = length(var.allowed_ip_ranges) > 0 ? "Enabled" : (local.public_access ? "Enabled" : "Disabled")
      ipAllowlist                 = var.allowed_ip_ranges
      imageBuildCompute           = local.names.compute_cluster
      systemDatastoresAuthMode    = "Identity"
      # Provision the managed network while the workspace is created, before the cluster:
      # the cluster (and azurerm 4.14-4.17's create check, removed in 4.18) needs it active.
      provisionNetworkNow = true
      managedNetwork = {
        isolationMode = "AllowOnlyApprovedOutbound"
        firewallSku   = "Standard"
        # Declared with the workspace (not as separate outboundRules resources) so that a
        # later PUT of the workspace carries every rule.
        outboundRules = local.outbound_rules
      }
    }
  }

  depends_on = [azurerm_role_assignment.workspace_identity_bootstrap]
}

# The workspace identity needs its roles before the workspace can be created with it.
resource "azurerm_role_assignment" "workspace_identity_bootstrap" {
  for_each           = { for key, ra in local.role_assignments : key => ra if ra.principal == "workspace" && ra.scope != "workspace" }
  scope              = local.bootstrap_scopes[each.value.scope]
  role_definition_id = "${data.azurerm_subscription.current.id}/providers/Microsoft.Authorization/roleDefinitions/${local.role_ids[each.value.role]}"
  principal_id       = data.azurerm_user_assigned_identity.workspace.principal_id
  principal_type     = "ServicePrincipal"
}

resource "azurerm_role_assignment" "this" {
  for_each           = { for key, ra in local.role_assignments : key => ra if !(ra.principal == "workspace" && ra.scope != "workspace") }
  scope              = local.scopes[each.value.scope]
  role_definition_id = "${data.azurerm_subscription.current.id}/providers/Microsoft.Authorization/roleDefinitions/${local.role_ids[each.value.role]}"
  principal_id       = local.principals[each.value.principal].id
  principal_type     = local.principals[each.value.principal].type
}

# No subnet and no node public IP: the nodes live in the workspace's managed network. azurerm
# 4.14.0-4.17.0 refused that on create unless the managed network was already Active
# (internal/services/machinelearning/machine_learning_compute_cluster_resource.go,
# resourceComputeClusterCreate: "`subnet_resource_id` must be set if `node_public_ip_enabled` is
# set to `false` or the workspace is not in a managed network"); 4.18.0 dropped the check and
# 4.20.0 is pinned. The network is provisioned with the workspace (provisionNetworkNow) anyway,
# so the cluster starts on an active network.
resource "azurerm_machine_learning_compute_cluster" "cpu" {
  name                          = local.names.compute_cluster
  location                      = var.location
  machine_learning_workspace_id = azapi_resource.workspace.id
  vm_priority                   = "Dedicated"
  vm_size                       = var.compute_vm_size
  local_auth_enabled            = false
  node_public_ip_enabled        = false
  ssh_public_access_enabled     = false
  tags                          = local.tags

  scale_settings {
    min_node_count                       = var.compute_min_instances
    max_node_count                       = var.compute_max_instances
    scale_down_nodes_after_idle_duration = var.compute_idle_before_scale_down
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [data.azurerm_user_assigned_identity.compute.id]
  }

  # Image pulls need AcrPull in place before the first node starts.
  depends_on = [azurerm_role_assignment.this]
}

# Private endpoints for the workspace and each service it depends on, registered in the
# aml-vnet private DNS zones. Declared per service (not through modules/private-endpoint) so
# each one visibly points at its target and checkov's graph checks (CKV2_AZURE_32/33) can
# connect storage and Key Vault to their endpoints.
resource "azurerm_private_endpoint" "workspace" {
  count               = var.private_networking_enabled ? 1 : 0
  name                = "pe-${local.names.workspace}-amlworkspace"
  location            = var.location
  resource_group_name = data.azurerm_resource_group.env.name
  subnet_id           = data.azurerm_subnet.private.id
  tags                = local.tags

  private_service_connection {
    name                           = "amlworkspace"
    private_connection_resource_id = azapi_resource.workspace.id
    subresource_names              = ["amlworkspace"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [for zone in local.private_dns_zones.amlworkspace : data.azurerm_private_dns_zone.zone[zone].id]
  }
}

resource "azurerm_private_endpoint" "storage" {
  for_each            = var.private_networking_enabled ? toset(["blob", "file", "queue", "table"]) : toset([])
  name                = "pe-${local.names.storage_account}-${each.value}"
  location            = var.location
  resource_group_name = data.azurerm_resource_group.env.name
  subnet_id           = data.azurerm_subnet.private.id
  tags                = local.tags

  private_service_connection {
    name                           = each.value
    private_connection_resource_id = azurerm_storage_account.this.id
    subresource_names              = [each.value]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [for zone in local.private_dns_zones[each.value] : data.azurerm_private_dns_zone.zone[zone].id]
  }
}

resource "azurerm_private_endpoint" "key_vault" {
  count               = var.private_networking_enabled ? 1 : 0
  name                = "pe-${local.names.key_vault}-vault"
  location            = var.location
  resource_group_name = data.azurerm_resource_group.env.name
  subnet_id           = data.azurerm_subnet.private.id
  tags                = local.tags

  private_service_connection {
    name                           = "vault"
    private_connection_resource_id = azurerm_key_vault.this.id
    subresource_names              = ["vault"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [for zone in local.private_dns_zones.vault : data.azurerm_private_dns_zone.zone[zone].id]
  }
}

resource "azurerm_private_endpoint" "container_registry" {
  count               = var.private_networking_enabled ? 1 : 0
  name                = "pe-${local.names.container_registry}-registry"
  location            = var.location
  resource_group_name = data.azurerm_resource_group.env.name
  subnet_id           = data.azurerm_subnet.private.id
  tags                = local.tags

  private_service_connection {
    name                           = "registry"
    private_connection_resource_id = azurerm_container_registry.this.id
    subresource_names              = ["registry"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [for zone in local.private_dns_zones.registry : data.azurerm_private_dns_zone.zone[zone].id]
  }
}

# This environment's endpoints to the shared registry, its storage and its ACR.
resource "azurerm_private_endpoint" "registry" {
  for_each            = var.private_networking_enabled ? local.registry_endpoints : {}
  name                = "pe-${local.names.registry}-${each.key}"
  location            = var.location
  resource_group_name = data.azurerm_resource_group.env.name
  subnet_id           = data.azurerm_subnet.private.id
  tags                = local.tags

  private_service_connection {
    name                           = each.key
    private_connection_resource_id = each.value
    subresource_names              = [each.key]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [for zone in local.private_dns_zones[each.key] : data.azurerm_private_dns_zone.zone[zone].id]
  }
}
