// The Azure ML workspace and the services it depends on: Log Analytics + Application Insights,
// storage account, Key Vault, container registry (admin user off), and their private endpoints.
// Network settings arrive as literal values whose defaults are the private ones, so checkov sees
// (and this file states) the secure configuration; main.bicep derives them from its toggle.

param location string
param tags object

@description('Derived resource names (main.bicep: names).')
param names object

@description('Public network access of Key Vault and the container registry.')
@allowed([
  'Disabled'
  'Enabled'
])
param publicNetworkAccess string = 'Disabled'

@description('Public network access of the workspace and storage account: Enabled only for an IP allow-list or with private networking off.')
@allowed([
  'Disabled'
  'Enabled'
])
param allowListPublicNetworkAccess string = 'Disabled'

@description('Firewall default action of storage and Key Vault.')
@allowed([
  'Deny'
  'Allow'
])
param firewallDefaultAction string = 'Deny'

@description('Public IPs/CIDR ranges that may still reach the workspace and storage account.')
param allowedIpRanges array = []

@description('Subnet for the private endpoints; empty creates none (private networking off).')
param privateEndpointSubnetId string = ''

@description('Resource id of the workspace user-assigned identity (network module).')
param workspaceIdentityId string

@description('Principal id of the workspace identity: its storage roles are granted before the workspace exists.')
param workspaceIdentityPrincipalId string

@description('Built-in role definition GUIDs by name (main.bicep: roleIds).')
param roleIds object


@description('The shared Azure ML registry (registry.bicep, deployed first).')
param registryId string

@description('Its name, for the names of this environment\'s endpoints to it.')
param registryName string

@description('The registry\'s system-created storage account (its managed resource group).')
param registryStorageAccountId string

@description('The registry\'s system-created container registry (its managed resource group).')
param registryContainerRegistryId string

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: names.logAnalytics
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: names.applicationInsights
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_43:The name is built at deploy time from the naming scheme (st<ns><pf><env>); tests/infrastructure checks it is 3-24 lowercase alphanumerics for every environment.
  name: names.storageAccount
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_GRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    publicNetworkAccess: allowListPublicNetworkAccess
    isLocalUserEnabled: false
    // The workspace reaches its system datastores with identities (systemDatastoresAuthMode).
    allowSharedKeyAccess: false
    networkAcls: {
      defaultAction: firewallDefaultAction
      bypass: 'AzureServices'
      ipRules: [for ip in allowedIpRanges: {
        value: ip
        action: 'Allow'
      }]
    }
    sasPolicy: {
      sasExpirationPeriod: '01.00:00:00'
      expirationAction: 'Log'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// Queue read/write/delete logging (the Terraform stack's queue_properties.logging).
resource queueLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'queue-logs'
  scope: queueService
  properties: {
    workspaceId: logAnalytics.id
    logs: [
      {
        category: 'StorageRead'
        enabled: true
      }
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: names.keyVault
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    enablePurgeProtection: true
    softDeleteRetentionInDays: 90
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: firewallDefaultAction
      bypass: 'AzureServices'
    }
  }
}

// 2025-04-01: the first GA API version whose registry properties include anonymousPullEnabled
// (Azure/bicep-types-az generated/containerregistry_0/.../2023-07-01/types.json has none, so ARM
// dropped it with a warning; tests/infrastructure/fixtures/arm_properties.json records both).
resource containerRegistry 'Microsoft.ContainerRegistry/registries@2025-04-01' = {
  // checkov:skip=CKV_AZURE_166:Quarantine holds every pushed image until a scanner marks it passed; no scanner releases images here, so Azure ML environment images would never reach jobs.
  name: names.containerRegistry
  location: location
  tags: tags
  sku: {
    name: 'Premium'
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: publicNetworkAccess
    networkRuleBypassOptions: 'AzureServices'
    dataEndpointEnabled: true
    zoneRedundancy: 'Enabled'
    policies: {
      // Off on purpose: a quarantined image is unpullable until a scanner marks it passed, and
      // nothing here releases Azure ML's environment images. Pair it with a releasing scanner
      // before turning it on.
      quarantinePolicy: {
        status: 'disabled'
      }
      trustPolicy: {
        type: 'Notary'
        status: 'enabled'
      }
      retentionPolicy: {
        days: 7
        status: 'enabled'
      }
    }
  }
}

// With identity-based system datastores and shared keys off, the workspace reaches its storage
// with its identity from the start, so these roles come before the workspace. (Two resources,
// not a loop, chained: checkov stops evaluating a resource whose dependsOn names a loop or more
// than one resource.)
resource workspaceBlobRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, workspaceIdentityPrincipalId, roleIds['Storage Blob Data Contributor'])
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds['Storage Blob Data Contributor'])
    principalId: workspaceIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource workspaceFileRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, workspaceIdentityPrincipalId, roleIds['Storage File Data Privileged Contributor'])
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds['Storage File Data Privileged Contributor'])
    principalId: workspaceIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
  dependsOn: [
    workspaceBlobRole
  ]
}

// The managed network's approved outbound rules. FQDN: environment image builds install the
// conda specs in data-science/environment (channel conda-forge, served by
// conda.anaconda.org) and their pip sections (pypi.org, files.pythonhosted.org); FQDN rules
// make Azure ML deploy a managed Azure Firewall (billed). Private endpoint: jobs and
// endpoints pull registry models without public access. Azure ML adds the required
// service-tag rules and the private endpoints to the workspace's own storage, Key Vault and
// ACR itself. https://learn.microsoft.com/azure/machine-learning/how-to-managed-network
// ("Scenario: Access public machine learning packages", "Private endpoint outbound rules").
// Declared with the workspace so that every later PUT of it carries every rule.
resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01-preview' = {
  name: names.workspace
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${workspaceIdentityId}': {}
    }
  }
  properties: {
    friendlyName: names.workspace
    storageAccount: storage.id
    keyVault: keyVault.id
    applicationInsights: appInsights.id
    containerRegistry: containerRegistry.id
    primaryUserAssignedIdentity: workspaceIdentityId
    publicNetworkAccess: allowListPublicNetworkAccess
    ipAllowlist: allowedIpRanges
    imageBuildCompute: names.computeCluster
    // Identity-based system datastores, so the storage account refuses shared keys.
    systemDatastoresAuthMode: 'Identity'
    // Provision the managed network with the workspace, before compute.bicep's cluster.
    provisionNetworkNow: true
    // Outbound rules: see the comment above this resource.
    managedNetwork: {
      isolationMode: 'AllowOnlyApprovedOutbound'
      firewallSku: 'Standard'
      outboundRules: {
        pypi: {
          type: 'FQDN'
          destination: 'pypi.org'
        }
        pythonhosted: {
          type: 'FQDN'
          destination: 'files.pythonhosted.org'
        }
        'conda-forge': {
          type: 'FQDN'
          destination: 'conda.anaconda.org'
        }
        registry: {
          type: 'PrivateEndpoint'
          destination: {
            serviceResourceId: registryId
            subresourceTarget: 'amlregistry'
            sparkEnabled: false
          }
        }
      }
    }
  }
  dependsOn: [
    workspaceFileRole
  ]
}

// Private endpoints for the workspace and each service it depends on, registered in the network
// module's private DNS zones. Private link sub-resource -> target and DNS zones.
var privateEndpoints = empty(privateEndpointSubnetId) ? [] : [
  {
    groupId: 'amlworkspace'
    targetName: workspace.name
    targetId: workspace.id
    zones: [
      'privatelink.api.azureml.ms'
      'privatelink.notebooks.azure.net'
    ]
  }
  {
    groupId: 'blob'
    targetName: storage.name
    targetId: storage.id
    zones: [
      'privatelink.blob.${environment().suffixes.storage}'
    ]
  }
  {
    groupId: 'file'
    targetName: storage.name
    targetId: storage.id
    zones: [
      'privatelink.file.${environment().suffixes.storage}'
    ]
  }
  {
    groupId: 'queue'
    targetName: storage.name
    targetId: storage.id
    zones: [
      'privatelink.queue.${environment().suffixes.storage}'
    ]
  }
  {
    groupId: 'table'
    targetName: storage.name
    targetId: storage.id
    zones: [
      'privatelink.table.${environment().suffixes.storage}'
    ]
  }
  {
    groupId: 'vault'
    targetName: keyVault.name
    targetId: keyVault.id
    zones: [
      'privatelink.vaultcore.azure.net'
    ]
  }
  {
    groupId: 'registry'
    targetName: containerRegistry.name
    targetId: containerRegistry.id
    zones: [
      'privatelink.azurecr.io'
    ]
  }
  // This environment's endpoints to the shared registry, its storage and its ACR: a private
  // registry is reached through all three
  // (https://learn.microsoft.com/azure/machine-learning/how-to-registry-network-isolation).
  {
    groupId: 'amlregistry'
    targetName: registryName
    targetId: registryId
    zones: [
      'privatelink.api.azureml.ms'
    ]
  }
  {
    groupId: 'blob'
    targetName: registryName
    targetId: registryStorageAccountId
    zones: [
      'privatelink.blob.${environment().suffixes.storage}'
    ]
  }
  {
    groupId: 'registry'
    targetName: registryName
    targetId: registryContainerRegistryId
    zones: [
      'privatelink.azurecr.io'
    ]
  }
]

module privateEndpoint 'private-endpoint.bicep' = [for pe in privateEndpoints: {
  name: 'pe-${pe.targetName}-${pe.groupId}'
  params: {
    name: 'pe-${pe.targetName}-${pe.groupId}'
    location: location
    tags: tags
    subnetId: privateEndpointSubnetId
    targetResourceId: pe.targetId
    groupId: pe.groupId
    privateDnsZoneNames: pe.zones
  }
  dependsOn: [
    workspace
    storage
    keyVault
    containerRegistry
  ]
}]

output workspaceName string = workspace.name
output workspaceId string = workspace.id
output storageAccountName string = storage.name
output storageAccountId string = storage.id
output keyVaultId string = keyVault.id
output containerRegistryId string = containerRegistry.id
output containerRegistryName string = containerRegistry.name
